#!/usr/bin/env python3
"""Checks Datadog dashboard and monitor JSON files against Datadog's own API models
(datadog-api-client, v1 Dashboard and Monitor): wrong types and missing required fields are
errors, and so is anything the models only keep as "unparsed" (an unknown widget type or enum
value), which the client would otherwise accept silently.

    scripts/check_datadog.py dashboards/*.json dashboards/monitors/*.json
"""
import json
import sys

from datadog_api_client import Configuration
from datadog_api_client.model_utils import ModelNormal, ModelComposed, ModelSimple, validate_and_convert_types
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor


def unparsed(obj, path, out):
    if getattr(obj, "_unparsed", False):
        out.append(f"{path}: not a valid value of the Datadog API model ({type(obj).__name__})")
    if isinstance(obj, (ModelNormal, ModelComposed)):
        for key, value in obj._data_store.items():
            unparsed(value, f"{path}.{key}", out)
        for inner in getattr(obj, "_composed_instances", []) or []:
            if not getattr(inner, "_unparsed", False):
                for key, value in inner._data_store.items():
                    unparsed(value, f"{path}.{key}", out)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            unparsed(value, f"{path}[{i}]", out)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            unparsed(value, f"{path}.{key}", out)


def check(path):
    with open(path) as f:
        data = json.load(f)
    model, name = (Dashboard, "dashboard") if "layout_type" in data or "widgets" in data else (Monitor, "monitor")
    try:
        obj = validate_and_convert_types(data, (model,), [name], True, True, configuration=Configuration())
    except Exception as e:  # the client raises TypeError / ApiTypeError / ApiValueError
        return [f"{path}: {type(e).__name__}: {e}"]
    problems = []
    unparsed(obj, f"{path}: {name}", problems)
    return problems


def main(paths):
    if not paths:
        print("usage: check_datadog.py FILE.json...", file=sys.stderr)
        return 2
    problems = [p for path in paths for p in check(path)]
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(paths)} file(s) checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
