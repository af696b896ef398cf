"""Shared helpers for the offline-stack tests: the fixture template under fixture_app/."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from ropguard_offline.aws_resources import OfflineResources, read_template
from ropguard_offline.template import FunctionSpec

FIXTURE_TEMPLATE = Path(__file__).parent / "fixture_app" / "template.yaml"
FIXTURE_PARAMETERS = {"RequiredDomain": "example.test"}


@functools.cache
def read(path: Path = FIXTURE_TEMPLATE, **overrides: str) -> OfflineResources:
    """A template created in an in-process moto and read back (once per path and overrides)."""
    return read_template(path, overrides)


@pytest.fixture
def fixture_template() -> OfflineResources:
    """The fixture template as moto resolved it (nothing kept running)."""
    return read(FIXTURE_TEMPLATE, **FIXTURE_PARAMETERS)


def spec_of(resources: OfflineResources, logical_id: str) -> FunctionSpec:
    (spec,) = (spec for spec in resources.functions if spec.logical_id == logical_id)
    return spec
