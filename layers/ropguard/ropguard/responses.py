"""API Gateway proxy responses (valid for payload 1.0 and 2.0): JSON, never cached.

``Cache-Control: no-store`` and ``Pragma: no-cache`` are what RFC 6749 section 5.1 requires on
token responses; errors carry them too so no proxy keeps any login answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ropguard.answers import Answer

BASE_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**BASE_HEADERS, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def render(answer: Answer) -> dict[str, Any]:
    """The one renderer: every route's domain answer becomes a proxy response here. Cookies go in
    payload 2.0's ``cookies`` list, which API Gateway sends as one ``Set-Cookie`` header each."""
    response = json_response(answer.status, answer.body, answer.headers)
    if answer.cookies:
        response["cookies"] = list(answer.cookies)
    return response
