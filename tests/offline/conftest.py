"""Shared helpers for the offline-stack tests: the fixture template under fixture_app/."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws_resources import bind_stand_ins
from local.intrinsics import Resolver
from local.template import Template

FIXTURE_TEMPLATE = Path(__file__).parent / "fixture_app" / "template.yaml"
FIXTURE_PARAMETERS = {"RequiredDomain": "example.test"}


@pytest.fixture(scope="session")
def fixture_template() -> Template:
    return Template.load(FIXTURE_TEMPLATE)


@pytest.fixture
def stand_in_resolver(fixture_template: Template) -> Resolver:
    """A resolver where every resource has a stand-in id (nothing created): for reading only."""
    resolver = Resolver(fixture_template.document, FIXTURE_PARAMETERS)
    bind_stand_ins(fixture_template, resolver, exclude=set())
    return resolver
