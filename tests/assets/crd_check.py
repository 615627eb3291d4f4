#!/usr/bin/env python3
"""Checks the Prometheus Operator objects (ServiceMonitor, PrometheusRule) of rendered manifests.

The Kubernetes JSON schemas (kubernetes-validate) do not describe these custom resources. This
loads each one into the pydantic models of the operator's CRDs (PyPI
cloudcoil.models.prometheus_operator, operator 0.80), which rejects wrong types, and writes it
back: a key that the round trip loses is unknown to the CRD (a typo), and is reported too.

Usage: crd_check.py <rendered.yaml>   (multi-document YAML, as `kubectl kustomize` prints it)
Prints "<Kind>/<name>: ok" per object; exits 1 if any object is wrong.
"""

import json
import sys

import yaml
from cloudcoil.models.prometheus_operator import v1

KINDS = {"ServiceMonitor": v1.ServiceMonitor, "PrometheusRule": v1.PrometheusRule}


def lost_keys(original, written, path=""):
    """Keys of `original` that `written` does not have, as dotted paths."""
    if isinstance(original, dict) and isinstance(written, dict):
        lost = []
        for key, value in original.items():
            if key not in written:
                lost.append(f"{path}{key}")
            else:
                lost += lost_keys(value, written[key], f"{path}{key}.")
        return lost
    if isinstance(original, list) and isinstance(written, list):
        return [k for i, (a, b) in enumerate(zip(original, written))
                for k in lost_keys(a, b, f"{path}{i}.")]
    return []


def main(path):
    failed = False
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        model = KINDS.get(doc.get("kind"))
        if model is None:
            continue
        name = f"{doc['kind']}/{doc.get('metadata', {}).get('name')}"
        try:
            written = model.model_validate(doc).model_dump(
                mode="json", by_alias=True, exclude_unset=True)
        except Exception as e:  # pydantic's ValidationError, with every wrong field
            print(f"{name}: invalid: {e}")
            failed = True
            continue
        lost = lost_keys(doc, written)
        if lost:
            print(f"{name}: unknown keys {json.dumps(lost)}")
            failed = True
        elif written != doc:
            print(f"{name}: changed by the round trip")
            failed = True
        else:
            print(f"{name}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
