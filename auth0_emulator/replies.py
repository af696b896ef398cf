"""An Authentication API answer as the model decides it, before any HTTP is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | list[Any] | str
    headers: dict[str, str] = field(default_factory=dict)
