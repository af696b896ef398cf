"""The part of CloudFormation's ``AWS::LanguageExtensions`` transform template.yaml uses, applied
before SAM's translator as CloudFormation applies it (the transforms run in the order listed).

Neither aws-sam-translator nor moto's CloudFormation knows the transform: the translator would
hash ``Fn::ToJsonString`` unresolved (so a parameter change would publish no new version), and
moto fails on ``Fn::FindInMap``'s ``DefaultValue``. What is resolved here, as the transform
documents it (docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/
transform-aws-languageextensions.html):

- ``Fn::FindInMap`` with ``{"DefaultValue": ...}``: the mapped value, else the default.
- ``Fn::ToJsonString``: the object as compact JSON, ``Ref`` to parameters and pseudo parameters
  replaced by their values. Left as written when a value is missing (only a translation without
  parameter values, e.g. a lint, has none; moto then resolves it itself).

Any other construct of the transform (``Fn::ForEach``, ``Fn::Length``) is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

TRANSFORM = "AWS::LanguageExtensions"
UNSUPPORTED = ("Fn::ForEach", "Fn::Length")
_MISSING = object()


class LanguageExtensionError(ValueError):
    """The template uses the transform in a way not resolved here (the message says where)."""


def uses_transform(document: Mapping[str, Any]) -> bool:
    transform = document.get("Transform")
    return transform == TRANSFORM or (isinstance(transform, list) and TRANSFORM in transform)


def resolve(document: dict[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """``document`` with the transform applied and removed from ``Transform``; unchanged when it
    does not declare the transform. ``values``: every parameter's and pseudo parameter's value."""
    if not uses_transform(document):
        return document
    transform = document["Transform"]
    rest = [item for item in transform if item != TRANSFORM] if isinstance(transform, list) else []
    resolved = {key: _resolve(value, document, values, key) for key, value in document.items()}
    if rest:
        resolved["Transform"] = rest[0] if len(rest) == 1 else rest
    else:
        del resolved["Transform"]
    return resolved


def _resolve(node: Any, document: Mapping[str, Any], values: Mapping[str, str], where: str) -> Any:
    if isinstance(node, list):
        return [_resolve(item, document, values, f"{where}[{n}]") for n, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, args),) = node.items()
        if key in UNSUPPORTED or key.startswith("Fn::ForEach::"):
            raise LanguageExtensionError(f"{where}: {key} is not resolved offline")
        if key == "Fn::FindInMap" and isinstance(args, list) and len(args) == 4:
            return _find_in_map(args, document, values, where)
        if key == "Fn::ToJsonString":
            inner = _resolve(args, document, values, where)
            plain = _with_values(inner, values)
            return node if plain is _MISSING else json.dumps(plain, separators=(",", ":"))
    return {key: _resolve(value, document, values, f"{where}.{key}") for key, value in node.items()}


def _find_in_map(args: list[Any], document: Mapping[str, Any], values: Mapping[str, str], where: str) -> Any:
    *keys, options = args
    if not isinstance(options, dict) or set(options) != {"DefaultValue"}:
        raise LanguageExtensionError(
            f"{where}: Fn::FindInMap's fourth argument must be {{DefaultValue: ...}}"
        )
    names = [_with_values(_resolve(key, document, values, where), values) for key in keys]
    if any(not isinstance(name, str) for name in names):
        raise LanguageExtensionError(f"{where}: Fn::FindInMap's keys must resolve to strings")
    found: Any = document.get("Mappings", {})
    for name in names:
        found = found.get(name, _MISSING) if isinstance(found, dict) else _MISSING
    return _resolve(options["DefaultValue"], document, values, where) if found is _MISSING else found


def _with_values(node: Any, values: Mapping[str, str]) -> Any:
    """``node`` with every ``Ref`` to a value replaced; ``_MISSING`` when some intrinsic remains."""
    if isinstance(node, list):
        items = [_with_values(item, values) for item in node]
        return _MISSING if any(item is _MISSING for item in items) else items
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return values.get(node["Ref"], _MISSING)
        if any(key == "Ref" or key.startswith("Fn::") for key in node):
            return _MISSING
        fields = {key: _with_values(value, values) for key, value in node.items()}
        return _MISSING if any(value is _MISSING for value in fields.values()) else fields
    return node
