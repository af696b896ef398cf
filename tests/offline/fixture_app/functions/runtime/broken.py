"""A handler module whose import fails, as a missing dependency makes it fail in Lambda."""

import a_dependency_nobody_installed  # type: ignore[import-not-found]  # noqa: F401


def handler(event: object, context: object) -> None:
    """Never reached: the init phase fails first."""
