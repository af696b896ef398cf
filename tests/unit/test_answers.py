"""ropguard.answers and the one renderer (ropguard.responses.render)."""

from __future__ import annotations

import json

from ropguard.answers import Answer, error_body
from ropguard.responses import render


def test_render_makes_a_no_store_json_response_for_both_payload_versions() -> None:
    response = render(Answer("Succeeded", 429, error_body("too_many_requests", "slow"), {"Retry-After": "3"}))
    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "3"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert json.loads(response["body"]) == {"error": "too_many_requests", "error_description": "slow"}


def test_lists_render_too_and_bodies_stay_out_of_reprs() -> None:
    answer = Answer("Succeeded", 200, [{"id": "secret-ish"}])
    assert json.loads(render(answer)["body"]) == [{"id": "secret-ish"}]
    assert "secret-ish" not in repr(answer)
