#!/usr/bin/env python3
"""Seed the moto wrapper with an ECR estate; print a JSON manifest of what was made.

  python tests/support/seed.py --endpoint http://127.0.0.1:PORT --scenario test
  python tests/support/seed.py --endpoint URL --scenario demo
  python tests/support/seed.py --endpoint URL --scenario bench --accounts 2 --regions 2 --repos 500

Scenarios
  test   An organization (management account 123456789012 plus members dev, prod, sandbox;
         a fourth member, retired, is closed = SUSPENDED and must not be scanned; sandbox
         sits in OU root/workloads/sandbox, manifest "ous") and regions
         us-east-1 + eu-west-1 (ap-east-1 is listed as DISABLED). Every one of the 8 targets
         holds the same eight repositories, one per case below (64 in all), plus:
           prod/us-east-1 "legacy-secret": GetRepositoryPolicy answers AccessDenied (fault);
           management/us-east-1: a registry policy letting 999999999999 replicate (write);
           dev/eu-west-1: registry policy scope V1.
  demo   The same estate without the injected fault (for `make demo`).
  bench  --accounts x --regions targets (static account ids 2000000000NN), --repos per target,
         each with a public or private policy and an owner tag; no organization.

Repository cases (name: policy; tags) -- the scan test asserts what each must give:
  web-public      Principal "*", pull actions              ; owner=team-web
  ci-public-push  {"AWS": "*"}, push actions                ; owner="" (empty)
  partner-pull    account 999999999999 (untrusted), pull    ; owner=team-data, managed-by=terraform
  org-shared      "*" with aws:PrincipalOrgID = our org     ; project=shared (no owner)
  member-pull     another member account of the org, pull   ; owner=team-a
  private-none    no policy                                 ; never tagged
  broken-policy   statement with an unknown key (set raw)   ; owner=team-b
  admin-open      "*", ecr:*, aws:SourceIp 10.0.0.0/8       ; owner=team-ops
"""

import argparse
import json
import sys

import boto3
from botocore.config import Config

MGMT = "123456789012"
OUTSIDER = "999999999999"
REGIONS = ["us-east-1", "eu-west-1"]
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = [
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:BatchCheckLayerAvailability",
]


class Moto:
    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.clients = {}

    def client(self, service, account, region="us-east-1"):
        key = (service, account, region)
        if key not in self.clients:
            c = boto3.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )

            def add_account(request, **_):
                request.headers["x-moto-account-id"] = account

            c.meta.events.register("before-sign.*.*", add_account)
            self.clients[key] = c
        return self.clients[key]

    def control(self, path, body):
        import urllib.request

        req = urllib.request.Request(
            self.endpoint + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())


def statement(principal, actions, condition=None):
    s = {"Sid": "s0", "Effect": "Allow", "Principal": principal, "Action": actions}
    if condition:
        s["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [s]}


def cases(org_id, member):
    """(name, policy dict | raw str | None, tags list | None)"""
    return [
        ("web-public", statement("*", PULL), [("owner", "team-web")]),
        ("ci-public-push", statement({"AWS": "*"}, PUSH), [("owner", "")]),
        (
            "partner-pull",
            statement({"AWS": f"arn:aws:iam::{OUTSIDER}:root"}, PULL),
            [("owner", "team-data"), ("managed-by", "terraform")],
        ),
        (
            "org-shared",
            statement("*", PULL, {"StringEquals": {"aws:PrincipalOrgID": org_id}}),
            [("project", "shared")],
        ),
        (
            "member-pull",
            statement({"AWS": f"arn:aws:iam::{member}:root"}, PULL),
            [("owner", "team-a")],
        ),
        ("private-none", None, None),
        (
            "broken-policy",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "ecr:BatchGetImage",
                            "Bogus": "x",
                        }
                    ],
                }
            ),
            [("owner", "team-b")],
        ),
        (
            "admin-open",
            statement("*", "ecr:*", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            [("owner", "team-ops")],
        ),
    ]


def make_repo(moto, account, region, name, policy, tags):
    ecr = moto.client("ecr", account, region)
    kwargs = {"repositoryName": name}
    if tags:
        kwargs["tags"] = [{"Key": k, "Value": v} for k, v in tags]
    ecr.create_repository(**kwargs)
    if isinstance(policy, dict):
        ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(policy))
    elif isinstance(policy, str):
        moto.control(
            "/_raw_policy",
            {"account": account, "region": region, "repository": name, "policy": policy},
        )


def organization_estate(moto, with_faults):
    org = moto.client("organizations", MGMT)
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    accounts = {"mgmt": MGMT}
    for name in ["dev", "prod", "sandbox", "retired"]:
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")
        accounts[name] = status["CreateAccountStatus"]["AccountId"]
    org.close_account(AccountId=accounts["retired"])
    # OUs: root / workloads / sandbox-ou, holding the sandbox account (include/exclude tests)
    root = org.list_roots()["Roots"][0]["Id"]
    workloads = org.create_organizational_unit(ParentId=root, Name="workloads")
    workloads = workloads["OrganizationalUnit"]["Id"]
    sandbox_ou = org.create_organizational_unit(ParentId=workloads, Name="sandbox")
    sandbox_ou = sandbox_ou["OrganizationalUnit"]["Id"]
    org.move_account(
        AccountId=accounts["sandbox"], SourceParentId=root, DestinationParentId=sandbox_ou
    )
    active = ["mgmt", "dev", "prod", "sandbox"]
    count = 0
    for i, who in enumerate(active):
        account = accounts[who]
        member = accounts[active[(i + 1) % len(active)]]
        for region in REGIONS:
            for name, policy, tags in cases(org_id, member):
                make_repo(moto, account, region, name, policy, tags)
                count += 1
    make_repo(moto, accounts["prod"], "us-east-1", "legacy-secret", statement("*", PULL),
              [("owner", "team-legacy")])
    count += 1
    if with_faults:
        moto.control(
            "/_faults",
            {
                "operation": "GetRepositoryPolicy",
                "account": accounts["prod"],
                "region": "us-east-1",
                "repository": "legacy-secret",
                "error": "AccessDeniedException",
                "count": 1000000,
            },
        )
    registry = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "replication",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OUTSIDER}:root"},
                "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                "Resource": f"arn:aws:ecr:us-east-1:{MGMT}:repository/*",
            }
        ],
    }
    moto.client("ecr", MGMT, "us-east-1").put_registry_policy(policyText=json.dumps(registry))
    moto.control(
        "/_account_setting", {"account": accounts["dev"], "region": "eu-west-1", "value": "V1"}
    )
    return {
        "scenario": "test" if with_faults else "demo",
        "org_id": org_id,
        "accounts": accounts,
        "ous": {"workloads": workloads, "sandbox": sandbox_ou},
        "active_accounts": [accounts[a] for a in active],
        "regions": REGIONS,
        "outsider": OUTSIDER,
        "repositories": count,
    }


def bench_estate(moto, n_accounts, n_regions, repos):
    all_regions = ["us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-2"]
    regions = all_regions[:n_regions]
    accounts = [f"2000000000{i:02d}" for i in range(1, n_accounts + 1)]
    moto.control(
        "/_regions",
        {"regions": [{"RegionName": r, "RegionOptStatus": "ENABLED"} for r in regions]},
    )
    for account in accounts:
        for region in regions:
            for i in range(repos):
                policy = statement("*", PULL) if i % 10 == 0 else None
                make_repo(moto, account, region, f"svc-{i:05d}", policy, [("owner", "team")])
    return {
        "scenario": "bench",
        "accounts": {a: a for a in accounts},
        "active_accounts": accounts,
        "regions": regions,
        "repositories": repos * len(accounts) * len(regions),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--scenario", choices=["test", "demo", "bench"], default="test")
    p.add_argument("--accounts", type=int, default=2)
    p.add_argument("--regions", type=int, default=2)
    p.add_argument("--repos", type=int, default=100, help="repositories per target (bench)")
    a = p.parse_args()
    moto = Moto(a.endpoint.rstrip("/"))
    if a.scenario == "bench":
        manifest = bench_estate(moto, a.accounts, a.regions, a.repos)
    else:
        manifest = organization_estate(moto, with_faults=a.scenario == "test")
    json.dump(manifest, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
