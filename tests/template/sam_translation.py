"""template.yaml as CloudFormation sees it after the SAM transform (roles, stages, permissions).

The SAM template hides what AWS::Serverless resources expand into; least-privilege and
encryption are only provable on the expansion. aws-sam-translator's public API does it offline,
through the same ``local.template.translate`` the offline stack reads the template with.
``python -m tests.template.sam_translation OUT`` writes it for checkov.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from local.template import load_yaml, translate

ROOT = Path(__file__).resolve().parents[2]


def translated_template(path: Path = ROOT / "template.yaml", region: str = "us-east-1") -> dict[str, Any]:
    return translate(load_yaml(path), {}, region)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".aws-sam" / "translated-template.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(translated_template(), indent=1))
    print(out)
