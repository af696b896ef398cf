"""CloudFormation intrinsic functions, resolved against a local stack instead of a real one.

The offline stack reads every name and setting from template.yaml; this module turns the
template's ``!Ref``/``!GetAtt``/``!Sub``/``!If``… into the values they would have in a deployed
stack whose resources live in moto. Anything it cannot resolve fails loudly with the path to
the value, because a silently wrong local value is worse than a clear error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: What CloudFormation drops from a list or mapping (``!Ref AWS::NoValue``).
NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    """template.yaml asks for something the offline stack cannot give; the message says what."""


@dataclass(frozen=True)
class PseudoParameters:
    """The ``AWS::*`` values of the local stack (moto's default account)."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "ropguard-local"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def as_dict(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }


@dataclass
class Physical:
    """A created (or stand-in) resource: what ``Ref`` returns and what ``GetAtt`` can read."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


def references(value: Any) -> set[str]:
    """Logical ids a value refers to through Ref, GetAtt or Sub (to order resource creation)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        elif set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
        elif set(value) == {"Fn::Sub"}:
            body = value["Fn::Sub"]
            text, local_vars = (body[0], body[1]) if isinstance(body, list) else (body, {})
            for name in _SUB_VARIABLE.findall(text):
                if not name.startswith("!") and name.split(".", 1)[0] not in local_vars:
                    found.add(name.split(".", 1)[0])
            found |= references(local_vars)
        else:
            for item in value.values():
                found |= references(item)
    return {name for name in found if not name.startswith("AWS::")}


class Resolver:
    """Resolves intrinsic functions with parameters, conditions and bound physical resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameter_overrides: Mapping[str, str] | None = None,
        pseudo: PseudoParameters | None = None,
    ) -> None:
        self._template = template
        self.pseudo = pseudo or PseudoParameters()
        self._pseudo_values = self.pseudo.as_dict()
        self._parameters = _parameter_values(template.get("Parameters", {}), parameter_overrides or {})
        self._conditions: dict[str, bool] = {}
        self._physical: dict[str, Physical] = {}
        self._functions: dict[str, Callable[[Any, str], Any]] = {
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": self._not,
            "Fn::And": self._and,
            "Fn::Or": self._or,
            "Fn::Select": self._select,
            "Fn::Join": self._join,
            "Fn::Split": self._split,
            "Fn::FindInMap": self._find_in_map,
            "Fn::GetAZs": self._get_azs,
            "Fn::ToJsonString": self._to_json_string,
        }

    # -- bindings ---------------------------------------------------------------------------

    def bind(self, logical_id: str, physical: Physical) -> None:
        self._physical[logical_id] = physical

    def physical(self, logical_id: str) -> Physical:
        try:
            return self._physical[logical_id]
        except KeyError:
            raise TemplateError(f"resource {logical_id} is referenced before it exists locally") from None

    def is_bound(self, logical_id: str) -> bool:
        return logical_id in self._physical

    def parameter(self, name: str) -> Any:
        if name not in self._parameters:
            raise TemplateError(f"parameter {name} is not declared in the template")
        value = self._parameters[name]
        if value is None:
            raise TemplateError(f"parameter {name} has no Default: give it a local override")
        return value

    # -- conditions -------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self._template.get("Conditions", {})
            if name not in conditions:
                raise TemplateError(f"condition {name} is not declared in the template")
            self._conditions[name] = bool(self.resolve(conditions[name], f"Conditions.{name}"))
        return self._conditions[name]

    def is_active(self, logical_id: str) -> bool:
        """Whether CloudFormation would create this resource (its ``Condition`` holds)."""
        condition = self._template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, value: Any, where: str = "") -> Any:
        """The value with every intrinsic function evaluated; ``AWS::NoValue`` entries removed."""
        if isinstance(value, list):
            items = (self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value))
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument, where)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                function = self._functions.get(key)
                if function is None:
                    raise TemplateError(f"{where}: {key} is not supported by the offline stack")
                return function(argument, where)
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: str, where: str) -> Any:
        if name in self._pseudo_values:
            return self._pseudo_values[name]
        if name in self._template.get("Parameters", {}):
            return self.parameter(name)
        if name in self._template.get("Resources", {}):
            return self.physical(name).ref
        raise TemplateError(f"{where}: !Ref {name} names nothing in the template")

    def _get_att(self, argument: Any, where: str) -> str:
        logical_id, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
        attribute = self.resolve(attribute, where)
        physical = self.physical(logical_id)
        if attribute not in physical.attributes:
            raise TemplateError(f"{where}: !GetAtt {logical_id}.{attribute} is not known locally")
        return physical.attributes[attribute]

    def _sub(self, argument: Any, where: str) -> str:
        text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
        local_values = {name: self.resolve(item, where) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local_values:
                return str(local_values[name])
            if "." in name and name.split(".", 1)[0] in self._template.get("Resources", {}):
                return str(self._get_att(name, where))
            return str(self._ref(name, where))

        return _SUB_VARIABLE.sub(replace, text)

    def _if(self, argument: Any, where: str) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false, where)

    def _equals(self, argument: Any, where: str) -> bool:
        left, right = (self.resolve(item, where) for item in argument)
        return bool(str(left) == str(right))

    def _not(self, argument: Any, where: str) -> bool:
        return not self.resolve(argument[0], where)

    def _and(self, argument: Any, where: str) -> bool:
        return all(self.resolve(item, where) for item in argument)

    def _or(self, argument: Any, where: str) -> bool:
        return any(self.resolve(item, where) for item in argument)

    def _select(self, argument: Any, where: str) -> Any:
        index, items = self.resolve(argument, where)
        return items[int(index)]

    def _join(self, argument: Any, where: str) -> str:
        delimiter, items = self.resolve(argument, where)
        return str(delimiter).join(str(item) for item in items)

    def _split(self, argument: Any, where: str) -> list[str]:
        delimiter, text = self.resolve(argument, where)
        return str(text).split(str(delimiter))

    def _find_in_map(self, argument: Any, where: str) -> Any:
        map_name, top, second = self.resolve(argument, where)
        try:
            return self._template["Mappings"][map_name][top][second]
        except KeyError:
            raise TemplateError(f"{where}: !FindInMap [{map_name}, {top}, {second}] not found") from None

    def _get_azs(self, argument: Any, where: str) -> list[str]:
        region = self.resolve(argument, where) or self.pseudo.region
        return [f"{region}{zone}" for zone in "abc"]

    def _to_json_string(self, argument: Any, where: str) -> str:
        return json.dumps(self.resolve(argument, where), separators=(",", ":"))


def _parameter_values(declared: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"parameter overrides for undeclared parameters: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = overrides.get(name, spec.get("Default"))
        kind = str(spec.get("Type", "String"))
        if raw is not None and (kind.startswith("List<") or kind == "CommaDelimitedList"):
            values[name] = [item.strip() for item in str(raw).split(",")] if raw != "" else []
        else:
            values[name] = None if raw is None else str(raw)
    return values
