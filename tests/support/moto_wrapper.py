#!/usr/bin/env python3
"""Test-only wrapper around moto's server app: fills moto 5.2's gaps and injects faults.

Run:  python tests/support/moto_wrapper.py [--port 0]
It prints "PORT <n>" on stdout once it listens on 127.0.0.1 (port 0 = pick a free one).

What it adds to stock moto (see shared/docs/testing.md for why):
  * ECR DescribeRepositories honours maxResults/nextToken (moto returns everything at once).
  * Resource Groups Tagging GetResources with ResourceTypeFilters ["ecr"|"ecr:repository"]
    answers from moto's ECR backend (repositories with at least one tag, with their tags),
    paginated by ResourcesPerPage/PaginationToken. Never-tagged repositories are absent,
    as in AWS.
  * Account ListRegions (missing in moto): a configurable list with opt-in statuses.
  * ECR GetAccountSetting REGISTRY_POLICY_SCOPE (moto answers 500): V2 unless set.
  * Fault injection and per-operation request counts. S3 (REST) requests are named by method
    and path-style target: GetObject, PutObject, HeadObject, DeleteObject on a key,
    CreateBucket and ListObjects on a bucket; their faults answer S3's <Error> XML.

Control endpoints (plain HTTP, JSON bodies, all on the same port):
  POST /_faults    {"operation": "GetRepositoryPolicy", "account": "...", "region": "...",
                    "repository": "...", "error": "ThrottlingException" | "AccessDenied" |
                    "AccessDeniedException" | "500" | "slow", "count": 3, "delay_ms": 2000}
                   account/region/repository are optional filters. For STS AssumeRole the
                   account is the one in RoleArn. The error code is returned verbatim
                   (JSON "__type" or XML <Code>); "slow" delays, then answers normally.
  GET  /_counts    {"ecr:DescribeRepositories": 4, ...}: every AWS request seen, faulted or not.
  POST /_reset     clears counts and faults (moto's own state: POST /moto-api/reset).
  POST /_regions   {"account": optional, "regions": [{"RegionName": "us-east-1",
                    "RegionOptStatus": "ENABLED_BY_DEFAULT"}, ...]}
  POST /_account_setting  {"account": "...", "region": "...", "value": "V1"}
  POST /_raw_policy       {"account", "region", "repository", "policy"}: set policy text
                          without moto's validation (malformed-policy cases).
  POST /_raw_registry_policy {"account", "region", "policy"}
"""

import argparse
import io
import json
import logging
import re
import sys
import threading
import time
from urllib.parse import parse_qs

from moto.ecr.models import ecr_backends
from moto.iam.models import get_account_id_from
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGIONS = [
    {"RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
    {"RegionName": "eu-west-1", "RegionOptStatus": "ENABLED"},
    {"RegionName": "ap-east-1", "RegionOptStatus": "DISABLED"},
]
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.faults = []
            self.counts = {}
            self.regions = {None: DEFAULT_REGIONS}
            self.settings = {}


STATE = State()


def json_response(start_response, status, body, headers=()):
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
        + list(headers),
    )
    return [data]


S3_OPERATIONS = {
    ("GET", True): "GetObject",
    ("PUT", True): "PutObject",
    ("HEAD", True): "HeadObject",
    ("DELETE", True): "DeleteObject",
    ("PUT", False): "CreateBucket",
    ("GET", False): "ListObjects",
}


def identify(environ, body):
    """(service, operation, account, region, params) of an AWS request; service None if not."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = CREDENTIAL.search(auth)
    if not m:
        return None, None, None, None, {}
    key, region, service = m.groups()
    account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(key)
    target = environ.get("HTTP_X_AMZ_TARGET")
    params = {}
    if target:
        operation = target.split(".")[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
    elif service == "s3":
        parts = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)
        on_key = len(parts) == 2 and parts[1] != ""
        operation = S3_OPERATIONS.get((environ.get("REQUEST_METHOD", "GET"), on_key), "Unknown")
    elif service == "account":
        name = environ.get("PATH_INFO", "/").rstrip("/").split("/")[-1]
        operation = name[:1].upper() + name[1:]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
    else:
        form = parse_qs(body.decode("utf-8", "replace"))
        params = {k: v[0] for k, v in form.items()}
        operation = params.get("Action", "Unknown")
    if operation == "AssumeRole" and params.get("RoleArn", "").count(":") >= 5:
        account = params["RoleArn"].split(":")[4]
    return service, operation, account, region, params


def take_fault(operation, account, region, params):
    with STATE.lock:
        for f in STATE.faults:
            if f["count"] <= 0 or f["operation"] != operation:
                continue
            if f.get("account") and f["account"] != account:
                continue
            if f.get("region") and f["region"] != region:
                continue
            if f.get("repository") and f["repository"] != params.get("repositoryName"):
                continue
            f["count"] -= 1
            return dict(f)
    return None


def fault_response(start_response, fault, query_protocol, s3=False):
    code = str(fault["error"])
    if code == "500":
        status, code = "500 Internal Server Error", "InternalFailure"
    elif "AccessDenied" in code:
        status = "403 Forbidden" if query_protocol else "400 Bad Request"
    else:
        status = "400 Bad Request"
    message = f"injected fault for {fault['operation']}"
    if s3:
        if "AccessDenied" in code:
            status = "403 Forbidden"
        data = (
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>injected</RequestId></Error>"
        ).encode()
        start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))])
        return [data]
    if query_protocol:
        data = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
            "</Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))])
        return [data]
    return json_response(
        start_response, status, {"__type": code, "message": message}, [("x-amzn-ErrorType", code)]
    )


def call_inner(inner, environ, body):
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    captured = {}

    def start(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers

    chunks = inner(environ, start)
    try:
        data = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured["status"], captured["headers"], data


def paginate(items, token, size):
    start = int(token) if token and str(token).isdigit() else 0
    page = items[start : start + size]
    nxt = str(start + size) if start + size < len(items) else None
    return page, nxt


def describe_repositories(inner, environ, body, start_response, params):
    status, headers, data = call_inner(inner, environ, body)
    if not status.startswith("200"):
        start_response(status, headers)
        return [data]
    repos = json.loads(data).get("repositories", [])
    size = max(1, min(int(params.get("maxResults") or 100), 1000))
    page, nxt = paginate(repos, params.get("nextToken"), size)
    out = {"repositories": page}
    if nxt:
        out["nextToken"] = nxt
    return json_response(start_response, "200 OK", out)


def get_resources(start_response, account, region, params):
    backend = ecr_backends[account][region]
    mappings = []
    for repo in list(backend.repositories.values()):
        tags = backend.tagger.list_tags_for_resource(repo.arn).get("tags", [])
        if tags:
            mappings.append({"ResourceARN": repo.arn, "Tags": tags})
    size = max(1, min(int(params.get("ResourcesPerPage") or 50), 100))
    page, nxt = paginate(mappings, params.get("PaginationToken"), size)
    return json_response(
        start_response,
        "200 OK",
        {"ResourceTagMappingList": page, "PaginationToken": nxt or ""},
    )


def list_regions(start_response, account, params):
    account = params.get("AccountId") or account
    with STATE.lock:
        regions = STATE.regions.get(account, STATE.regions[None])
    wanted = params.get("RegionOptStatusContains")
    if wanted:
        regions = [r for r in regions if r["RegionOptStatus"] in wanted]
    return json_response(start_response, "200 OK", {"Regions": regions})


def control(environ, start_response, path, body):
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return json_response(start_response, "400 Bad Request", {"error": "invalid JSON"})
    if path == "/_counts":
        with STATE.lock:
            return json_response(start_response, "200 OK", dict(STATE.counts))
    if path == "/_reset":
        STATE.reset()
    elif path == "/_faults":
        fault = {
            "operation": req["operation"],
            "account": req.get("account"),
            "region": req.get("region"),
            "repository": req.get("repository"),
            "error": str(req.get("error", "ThrottlingException")),
            "count": int(req.get("count", 1)),
            "delay_ms": int(req.get("delay_ms", 2000)),
        }
        with STATE.lock:
            STATE.faults.append(fault)
    elif path == "/_regions":
        with STATE.lock:
            STATE.regions[req.get("account")] = req["regions"]
    elif path == "/_account_setting":
        with STATE.lock:
            STATE.settings[(req["account"], req["region"])] = req["value"]
    elif path == "/_raw_policy":
        repo = ecr_backends[req["account"]][req["region"]].repositories[req["repository"]]
        repo.policy = req["policy"]
    elif path == "/_raw_registry_policy":
        ecr_backends[req["account"]][req["region"]].registry_policy = req["policy"]
    else:
        return json_response(start_response, "404 Not Found", {"error": f"unknown {path}"})
    return json_response(start_response, "200 OK", {"ok": True})


def make_app():
    inner = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if path.startswith("/_"):
            return control(environ, start_response, path, body)
        service, operation, account, region, params = identify(environ, body)
        if service is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return inner(environ, start_response)
        with STATE.lock:
            name = f"{service}:{operation}"
            STATE.counts[name] = STATE.counts.get(name, 0) + 1
        fault = take_fault(operation, account, region, params)
        if fault and fault["error"] == "slow":
            time.sleep(fault["delay_ms"] / 1000.0)
        elif fault:
            query = not environ.get("HTTP_X_AMZ_TARGET") and service != "account"
            return fault_response(start_response, fault, query, s3=service == "s3")
        if service == "account" and operation == "ListRegions":
            return list_regions(start_response, account, params)
        if service == "ecr" and operation == "GetAccountSetting":
            if params.get("name") == "REGISTRY_POLICY_SCOPE":
                with STATE.lock:
                    value = STATE.settings.get((account, region), "V2")
                return json_response(
                    start_response, "200 OK", {"name": "REGISTRY_POLICY_SCOPE", "value": value}
                )
        if service == "ecr" and operation == "DescribeRepositories":
            return describe_repositories(inner, environ, body, start_response, params)
        if service == "tagging" and operation == "GetResources":
            types = params.get("ResourceTypeFilters") or []
            if types and all(t in ("ecr", "ecr:repository") for t in types):
                return get_resources(start_response, account, region, params)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return inner(environ, start_response)

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", args.port, make_app(), threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
