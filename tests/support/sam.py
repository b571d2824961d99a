"""template.yaml as CloudFormation will receive it: transformed by the SAM translator with one
samconfig environment's parameters, and the few intrinsics a test needs, resolved.

The source YAML can look right and still transform into something else (an intrinsic inside
CorsConfiguration once made SAM drop every CORS setting but the origins), so the assertions that
matter read the transformed template.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
NO_VALUE = object()  # what {"Ref": "AWS::NoValue"} resolves to

Template = dict[str, Any]


def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def deploy_parameters(config_env: str) -> dict[str, str]:
    """The parameter overrides `sam deploy --config-env <config_env>` passes."""
    lines = samconfig()[config_env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(line.split("=", 1) for line in lines)


def app_environments() -> list[str]:
    """Every samconfig environment that deploys template.yaml (not the data stack)."""
    return [
        name
        for name, sections in samconfig().items()
        if isinstance(sections, dict)
        and "deploy" in sections
        and "template_file" not in sections["deploy"]["parameters"]
    ]


def data_environments() -> list[str]:
    """Every samconfig environment that deploys infra/data.yaml."""
    return [
        name
        for name, sections in samconfig().items()
        if isinstance(sections, dict)
        and sections.get("deploy", {}).get("parameters", {}).get("template_file")
        == "infra/data.yaml"
    ]


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for `Policies:` names we never use."""

    def load(self) -> dict[str, str]:
        return {}


@cache
def _transformed(parameters: tuple[tuple[str, str], ...]) -> Template:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    source: Template = yaml_parse((ROOT / "template.yaml").read_text())
    # what `sam package` does before CloudFormation sees the template: code moves to S3
    source["Globals"]["Function"]["CodeUri"] = "s3://artifacts/functions.zip"
    source["Resources"]["DependenciesLayer"]["Properties"]["ContentUri"] = (
        "s3://artifacts/layer.zip"
    )
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION  # the translator fills AWS::Region from it
    try:
        result: Template = transform(source, dict(parameters), _NoManagedPolicies())
    finally:
        if previous is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous
    return result


def transformed_template(parameters: dict[str, str]) -> Template:
    """template.yaml transformed with these parameter values (a fresh copy each call)."""
    return copy.deepcopy(_transformed(tuple(sorted(parameters.items()))))


def parameter_values(template: Template, parameters: dict[str, str]) -> dict[str, str]:
    """Every parameter's value for a deploy with `parameters`: the given ones, else defaults."""
    values = {
        name: str(declared.get("Default", ""))
        for name, declared in template.get("Parameters", {}).items()
    }
    return {**values, **parameters}


def condition(template: Template, name: str, values: dict[str, str]) -> bool:
    return bool(resolve(template["Conditions"][name], template, values))


def resolve(value: Any, template: Template, values: dict[str, str]) -> Any:
    """Evaluate the intrinsics CloudFormation would (Ref to parameters, Fn::If, Fn::Equals,
    Fn::Not, Fn::And, Fn::Or, Fn::Split, Fn::Sub of parameters, Condition); anything else, e.g.
    a Ref to a resource, is left as it is."""
    if isinstance(value, list):
        resolved = [resolve(item, template, values) for item in value]
        return [item for item in resolved if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and argument == "AWS::NoValue":
            return NO_VALUE
        if key == "Ref" and argument in values:
            return values[argument]
        if key == "Condition":
            return condition(template, argument, values)
        if key == "Fn::If":
            name, when_true, when_false = argument
            chosen = when_true if condition(template, name, values) else when_false
            return resolve(chosen, template, values)
        if key == "Fn::Equals":
            left, right = (resolve(item, template, values) for item in argument)
            return left == right
        if key == "Fn::Not":
            return not resolve(argument[0], template, values)
        if key == "Fn::Or":
            return any(resolve(item, template, values) for item in argument)
        if key == "Fn::And":
            return all(resolve(item, template, values) for item in argument)
        if key == "Fn::Sub" and isinstance(argument, str):
            names = re.findall(r"\$\{([^}!]+)\}", argument)
            if all(name in values for name in names):
                return re.sub(r"\$\{([^}!]+)\}", lambda m: values[m.group(1)], argument)
        if key == "Fn::Split":
            separator, text = argument[0], resolve(argument[1], template, values)
            if isinstance(text, str):
                return text.split(separator)
    members = {key: resolve(item, template, values) for key, item in value.items()}
    return {key: item for key, item in members.items() if item is not NO_VALUE}
