"""Typed field readers for untrusted mappings (tenant YAML, Management API bodies).

Each reader raises ``ValidationError`` with the dotted path of the field, so a bad tenant file or
PATCH body is answered with a message that says exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ValidationError(ValueError):
    """A field is missing, of the wrong type, or out of range."""


def as_mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValidationError(f"{path}: expected an object")
    return value


def reject_unknown(data: Mapping[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"{path}: unknown field(s) {', '.join(unknown)}")


def read_str(data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{path}.{key}: expected a non-empty string")
    return value


def read_optional_str(data: Mapping[str, Any], key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{path}.{key}: expected a non-empty string or null")
    return value


def read_bool(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{path}.{key}: expected true or false")
    return value


def read_int(
    data: Mapping[str, Any], key: str, path: str, default: int, bounds: tuple[int, int | None]
) -> int:
    minimum, maximum = bounds
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{path}.{key}: expected an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValidationError(f"{path}.{key}: must be {bound}")
    return value


def read_str_list(
    data: Mapping[str, Any], key: str, path: str, default: tuple[str, ...], choices: set[str] | None = None
) -> tuple[str, ...]:
    value = data.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(f"{path}.{key}: expected a list of strings")
    if choices is not None:
        bad = [item for item in value if item not in choices]
        if bad:
            raise ValidationError(f"{path}.{key}: {bad[0]!r} is not one of {', '.join(sorted(choices))}")
    return tuple(value)


def read_choice(data: Mapping[str, Any], key: str, path: str, default: str, choices: set[str]) -> str:
    value = read_str(data, key, path, default)
    if value not in choices:
        raise ValidationError(f"{path}.{key}: {value!r} is not one of {', '.join(sorted(choices))}")
    return value
