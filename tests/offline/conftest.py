"""Shared helpers for the offline-stack tests: the fixture template under fixture_app/."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws_resources import bind_stand_ins
from local.template import FunctionSpec, StackTemplate

FIXTURE_TEMPLATE = Path(__file__).parent / "fixture_app" / "template.yaml"
FIXTURE_PARAMETERS = {"RequiredDomain": "example.test"}


@pytest.fixture
def fixture_template() -> StackTemplate:
    """The translated fixture template, every resource with a stand-in id (nothing created)."""
    template = StackTemplate(FIXTURE_TEMPLATE, FIXTURE_PARAMETERS)
    bind_stand_ins(template)
    return template


def spec_of(template: StackTemplate, logical_id: str) -> FunctionSpec:
    (spec,) = (spec for spec in template.functions() if spec.logical_id == logical_id)
    return spec
