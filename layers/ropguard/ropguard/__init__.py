"""ropguard: server-side Auth0 password login that forwards the end user's real IP.

Importing any ropguard module first imports Powertools with botocore hidden. Powertools' package
``__init__`` does ``import botocore`` only to register a User-Agent telemetry hook on every boto3
session; with botocore present (it always is in Lambda's Python runtime) that puts botocore on every
cold start, including the login's, which never needs it. Hidden for that one import, Powertools
skips the hook (its documented behaviour when botocore is absent) and botocore loads only when a
function really calls AWS. Handlers therefore import Powertools' names through ``ropguard.observability``
(the import-budget test, tests/unit/test_import_budget.py, checks that they do).
"""

from __future__ import annotations

import sys


def _import_powertools_without_botocore() -> None:
    if "aws_lambda_powertools" in sys.modules or "botocore" in sys.modules:
        return  # too late, or botocore is in use already: nothing to save
    sys.modules["botocore"] = None  # type: ignore[assignment] # makes `import botocore` raise ImportError
    try:
        import aws_lambda_powertools  # noqa: F401, PLC0415
    finally:
        del sys.modules["botocore"]


_import_powertools_without_botocore()
