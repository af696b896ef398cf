"""template.yaml as CloudFormation sees it after the SAM transform (roles, stages, permissions).

The SAM template hides what AWS::Serverless resources expand into; least-privilege and
encryption are only provable on the expansion. cfn-lint's bundled SAM translator does it offline.
``python -m tests.template.sam_translation OUT`` writes it for checkov.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode  # type: ignore[import-untyped]
from cfnlint.template.transforms._sam import Transform  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]


def translated_template(path: Path = ROOT / "template.yaml", region: str = "us-east-1") -> dict[str, Any]:
    template, problems = decode(str(path))
    if problems:
        raise ValueError(f"{path} does not parse: {problems}")
    transform = Transform(str(path), template, region)
    errors = transform.transform_template()
    if errors:
        raise ValueError(f"SAM transform of {path} failed: {errors}")
    translated: dict[str, Any] = json.loads(json.dumps(transform._template, default=str))
    return translated


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".aws-sam" / "translated-template.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(translated_template(), indent=1))
    print(out)
