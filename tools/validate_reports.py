#!/usr/bin/env python3
"""Validates WeightDrift JSON reports against the published JSON Schemas (draft 2020-12).

    python3 tools/validate_reports.py compare REPORT.json [REPORT.json …]
    python3 tools/validate_reports.py inspect REPORT.json [REPORT.json …]

The schemas are Sources/Report/Schemas/{compare,inspect}.schema.json. Needs the `jsonschema`
package (pip install jsonschema). Prints one line per invalid report and exits 1 if any is
invalid, 2 if the schema itself is not a valid draft 2020-12 schema.
"""
import json
import os
import sys

import jsonschema

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "Report", "Schemas")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("compare", "inspect"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(os.path.join(SCHEMAS, f"{sys.argv[1]}.schema.json")) as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        print(f"schema: {error.message}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            report = json.load(f)
        errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
        for error in errors[:3]:
            print(f"{path}: {'/'.join(map(str, error.path)) or '(root)'}: {error.message}")
        bad += bool(errors)
    print(f"{len(sys.argv) - 2 - bad} valid, {bad} invalid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
