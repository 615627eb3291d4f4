"""Unknown-key and convention check for the Grafana dashboards in dashboards/.

Loads each dashboard JSON with grafana-foundation-sdk (Grafana 11.6 schema) and writes it back:
any key that the round trip drops is unknown to the schema (a typo, or a key of another Grafana
version). Panel queries are decoded as Prometheus queries (the panels' datasource type), so a
misspelled query key is caught too. Also checks the conventions the dashboards promise: a fixed
uid, tags, a `datasource` variable, `account` and `region` variables, and every panel and query
on `${datasource}`.

Usage: python dashboard_roundtrip.py FILE...   (exit 1 and one line per problem on failure)
Driven by tests/assets_dashboards.rs.
"""

import json
import sys

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard


def key_paths(value, prefix=""):
    """Every key path of a JSON value; list items are addressed by index."""
    paths = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(child, path)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            paths |= key_paths(child, f"{prefix}[{i}]")
    return paths


def all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def convention_problems(dash):
    problems = []
    uid = dash.get("uid", "")
    if not (8 <= len(uid) <= 40):
        problems.append(f"uid {uid!r} must be fixed, 8 to 40 characters")
    if not dash.get("tags"):
        problems.append("no tags")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource (prometheus)")
    for name in ("account", "region"):
        if name not in variables:
            problems.append(f"no `{name}` variable")
    for var in variables.values():
        if var.get("type") == "query" and var.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"variable {var.get('name')} does not use ${{datasource}}")
    ids = set()
    for panel in all_panels(dash):
        title = panel.get("title", "?")
        if panel.get("id") in ids:
            problems.append(f"panel {title}: duplicate id {panel.get('id')}")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"panel {title}: datasource is not ${{datasource}}")
        if not panel.get("targets"):
            problems.append(f"panel {title}: no queries")
        for target in panel.get("targets", []):
            if not target.get("expr"):
                problems.append(f"panel {title}: query {target.get('refId')} has no expr")
            if target.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"panel {title}: query {target.get('refId')} not on ${{datasource}}")
    return problems


def main(files):
    plugins.register_default_plugins()
    failed = False
    for name in files:
        with open(name) as f:
            original = json.load(f)
        decoded = Dashboard.from_json(original)
        written = json.loads(json.dumps(decoded, cls=JSONEncoder))
        lost = sorted(key_paths(original) - key_paths(written))
        for path in lost:
            print(f"{name}: unknown key {path} (dropped by the Grafana 11 schema)")
        problems = convention_problems(original)
        for problem in problems:
            print(f"{name}: {problem}")
        panels = sum(1 for p in all_panels(original) if p.get("type") != "row")
        if lost or problems:
            failed = True
        else:
            print(f"{name}: ok ({panels} panels)")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
