"""Reading the CloudFormation templates the way cfn-lint does: `!Ref X` becomes {"Ref": "X"}."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]

Template = dict[str, Any]


def load_template(relative_path: str) -> Template:
    template: Template = cfn_yaml.load(str(ROOT / relative_path))
    return template


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by logical id."""
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def function_properties(template: Template, name: str) -> dict[str, Any]:
    """A SAM function's properties with Globals applied (SAM merges environment variables)."""
    defaults = template.get("Globals", {}).get("Function", {})
    own = template["Resources"][name]["Properties"]
    merged = {**defaults, **own}
    variables = {
        **defaults.get("Environment", {}).get("Variables", {}),
        **own.get("Environment", {}).get("Variables", {}),
    }
    merged["Environment"] = {"Variables": variables}
    return merged


def sub_json(value: Any) -> Any:
    """Parse the JSON inside a !Sub string, each ${Name} replaced by the text Name."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    return json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", text))
