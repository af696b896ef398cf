"""template.yaml as CloudFormation sees it after the SAM transform (roles, stages, permissions).

The SAM template hides what AWS::Serverless resources expand into; least-privilege and
encryption are only provable on the expansion. aws-sam-translator's public API does it offline,
through the same ``ropguard_offline.template.translate`` the offline stack reads the template with.
``python -m tests.template.sam_translation OUT`` writes it for checkov.

checkov evaluates ``Conditions`` with the parameters' defaults and drops resources whose condition
is false, so resources of a non-default mode (CloudFront) are never scanned unless the defaults
change: ``--parameter Name=Value`` (repeatable) makes ``Value`` that parameter's default in the
copy written, and ``--untranslated`` writes the template itself (as JSON) instead of its expansion.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ropguard_offline.template import load_yaml, translate

ROOT = Path(__file__).resolve().parents[2]


def with_defaults(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """``template`` with the named parameters' defaults replaced (each must exist)."""
    declared = template.get("Parameters", {})
    for name, value in parameters.items():
        if name not in declared:
            raise ValueError(f"template.yaml has no parameter {name!r}")
        declared[name]["Default"] = value
    return template


def decoded_template(
    path: Path = ROOT / "template.yaml", parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    return with_defaults(load_yaml(path), parameters or {})


def translated_template(
    path: Path = ROOT / "template.yaml", region: str = "us-east-1", parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    return translate(decoded_template(path, parameters), {}, region)


def _main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / ".aws-sam" / "translated-template.json")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--untranslated", action="store_true", help="write template.yaml itself, as JSON")
    args = parser.parse_args(argv)
    parameters = dict(item.split("=", 1) for item in args.parameter)
    if args.untranslated:
        document = json.loads(json.dumps(decoded_template(parameters=parameters), default=str))
    else:
        document = translated_template(parameters=parameters)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1))
    print(args.out)


if __name__ == "__main__":
    _main(sys.argv[1:])
