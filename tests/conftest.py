"""Root conftest: registers every fixture module under tests/fixtures/ as a plugin.

secret_hygiene comes first: other fixture modules import its registry, and a plugin module
imported before it is registered would miss pytest's assertion rewriting.
"""

from pathlib import Path

FIRST = "tests.fixtures.secret_hygiene"

pytest_plugins = [
    FIRST,
    *sorted(
        f"tests.fixtures.{path.stem}"
        for path in (Path(__file__).parent / "fixtures").glob("*.py")
        if path.stem != "__init__" and f"tests.fixtures.{path.stem}" != FIRST
    ),
]
