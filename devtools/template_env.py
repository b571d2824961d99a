"""The Lambda environment of `template.yaml`, derived from the template rather than copied.

`lambda_environment("ApiFunction", parameters=..., overrides=...)` merges the Globals' variables
with the function's own, as SAM does, and resolves every intrinsic to a local stand-in:
`!Ref` and `!Sub` names come from `parameters` (else the template parameter's Default, except
for SSM-typed parameters, whose Default is a parameter path, not a value), `!If` conditions are
evaluated from the same parameters (or forced through `conditions`). A variable whose value
cannot mean anything here (the RDS Proxy URL) is replaced through `overrides`, which may only
name variables the template sets: a renamed or removed variable fails loudly, never silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"

Template = dict[str, Any]


class TemplateValueError(ValueError):
    """A template value that needs a stand-in nobody gave, or an intrinsic this reader lacks."""


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags: `!Ref X` is {"Ref": "X"}, `!Sub s` {"Fn::Sub": s}."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise TemplateValueError(f"unexpected node for !{tag_suffix}")
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> Template:
    """The template as data, intrinsics in their long form ({"Ref": ...}, {"Fn::Sub": ...})."""
    return _load(path.resolve(), path.stat().st_mtime_ns)


@cache
def _load(path: Path, _mtime_ns: int) -> Template:
    loaded = yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader
    if not isinstance(loaded, dict):
        raise TemplateValueError(f"{path} is not a CloudFormation template")
    return loaded


def template_variables(function: str, template: Template) -> dict[str, Any]:
    """The unresolved variables of one function: Globals first, the function's own on top."""
    resource = template.get("Resources", {}).get(function)
    if resource is None or resource.get("Type") != "AWS::Serverless::Function":
        raise TemplateValueError(f"{function} is not an AWS::Serverless::Function")
    defaults = template.get("Globals", {}).get("Function", {})
    own = resource.get("Properties", {})
    return {
        **(defaults.get("Environment") or {}).get("Variables", {}),
        **(own.get("Environment") or {}).get("Variables", {}),
    }


def lambda_environment(
    function: str = "ApiFunction",
    *,
    parameters: Mapping[str, str] | None = None,
    conditions: Mapping[str, bool] | None = None,
    overrides: Mapping[str, str] | None = None,
    template: Path = TEMPLATE,
) -> dict[str, str]:
    """The environment template.yaml gives `function` in AWS, with local stand-ins.

    Args:
        function: the logical id of an AWS::Serverless::Function.
        parameters: values for template parameters and pseudo parameters (`AWS::Region`), and
            for any other name a `!Ref`/`!Sub` uses (a resource's logical id).
        conditions: forces a condition's value instead of evaluating it.
        overrides: replaces variables the template sets (and only those).
    """
    loaded = load_template(template)
    variables = template_variables(function, loaded)
    unknown = sorted(set(overrides or {}) - set(variables))
    if unknown:
        raise TemplateValueError(f"{function} sets no {', '.join(unknown)}: nothing to override")
    resolver = _Resolver(loaded, dict(parameters or {}), dict(conditions or {}))
    environment: dict[str, str] = {}
    for name, value in variables.items():
        if overrides and name in overrides:
            environment[name] = overrides[name]
            continue
        try:
            environment[name] = resolver.text(value)
        except TemplateValueError as error:
            raise TemplateValueError(f"{function} {name}: {error}") from None
    return environment


def resolve_value(
    value: Any,
    *,
    parameters: Mapping[str, str] | None = None,
    conditions: Mapping[str, bool] | None = None,
    template: Path = TEMPLATE,
) -> str | list[str]:
    """Any other value of the template (an authorizer's issuer, say), resolved as the variables
    are: a scalar to its text, a list item by item."""
    resolver = _Resolver(load_template(template), dict(parameters or {}), dict(conditions or {}))
    if isinstance(value, list):
        return [resolver.text(item) for item in value]
    return resolver.text(value)


def settings_values(environment: Mapping[str, str]) -> dict[str, str]:
    """The AUTHAPI_* variables as Settings keyword arguments: AUTHAPI_DB_AUTH -> db_auth."""
    return {
        name.removeprefix("AUTHAPI_").lower(): value
        for name, value in environment.items()
        if name.startswith("AUTHAPI_")
    }


_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")
# pseudo parameters with a stand-in of their own, unless `parameters` names another
PSEUDO_PARAMETERS = {"AWS::Region": "us-east-1"}


class _Resolver:
    def __init__(
        self, template: Template, parameters: dict[str, str], conditions: dict[str, bool]
    ) -> None:
        self.declared: dict[str, Any] = template.get("Parameters", {})
        self.conditions: dict[str, Any] = template.get("Conditions", {})
        self.parameters = parameters
        self.forced = conditions

    def text(self, value: Any) -> str:
        resolved = self.value(value)
        if isinstance(resolved, bool):  # CloudFormation writes YAML booleans in lower case
            return "true" if resolved else "false"
        if isinstance(resolved, int | float | str):
            return str(resolved)
        raise TemplateValueError(f"{resolved!r} is not a scalar")

    def value(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            raise TemplateValueError(f"{value!r} is not an intrinsic function")
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.ref(str(argument))
        if function == "Fn::Sub":
            return self.sub(argument)
        if function == "Fn::If":
            condition, if_true, if_false = argument
            return self.value(if_true if self.condition(str(condition)) else if_false)
        if function == "Fn::Join":
            separator, items = argument
            return str(separator).join(self.text(item) for item in self.value(items))
        raise TemplateValueError(f"{function} is not supported here")

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        declared = self.declared.get(name)
        if declared is None:
            raise TemplateValueError(f"!Ref {name} needs a stand-in (parameters={{{name!r}: ...}})")
        if str(declared.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            raise TemplateValueError(
                f"{name} is read from SSM at deploy time: give a stand-in for it in parameters"
            )
        if "Default" not in declared:
            raise TemplateValueError(f"parameter {name} has no Default: give it in parameters")
        return self.text(declared["Default"])

    def sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, local = argument
            local_values = {key: self.text(item) for key, item in local.items()}
        else:
            text, local_values = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            return local_values[name] if name in local_values else self.ref(name)

        return _SUB_NAME.sub(replace, str(text)).replace("${!", "${")

    def condition(self, name: str) -> bool:
        if name in self.forced:
            return self.forced[name]
        if name not in self.conditions:
            raise TemplateValueError(f"unknown condition {name}")
        return self.truth(self.conditions[name])

    def truth(self, expression: Any) -> bool:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateValueError(f"{expression!r} is not a condition")
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(str(argument))
        if function == "Fn::Equals":
            left, right = argument
            return self.text(left) == self.text(right)
        if function == "Fn::Not":
            return not self.truth(argument[0])
        if function == "Fn::And":
            return all(self.truth(item) for item in argument)
        if function == "Fn::Or":
            return any(self.truth(item) for item in argument)
        raise TemplateValueError(f"{function} is not a condition function")
