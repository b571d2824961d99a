"""The SsmKey transition (docs/operations/disaster-recovery.md, "Keys in a second region"): while
the data stack's key is replaced, the functions may decrypt with the old key too, and only then.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.sam import (
    app_environments,
    deploy_parameters,
    parameter_values,
    resolve,
    transformed_template,
)

pytestmark = pytest.mark.infra

OLD_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def decrypt_grants(parameters: dict[str, str]) -> dict[str, list[Any]]:
    """Each role's kms:Decrypt resources, as CloudFormation would resolve them."""
    template = transformed_template(parameters)
    values = parameter_values(template, parameters)
    grants = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                # a statement under Fn::If (a tenant's mail identities) has no Action of its own
                if "kms:Decrypt" in statement.get("Action", ()):
                    resources = resolve(statement["Resource"], template, values)
                    grants[name] = resources if isinstance(resources, list) else [resources]
    return grants


@pytest.mark.parametrize("environment", app_environments())
def test_without_a_previous_key_the_functions_decrypt_with_the_current_key_only(
    environment: str,
) -> None:
    parameters = deploy_parameters(environment)
    assert "PreviousSsmKeyArn" not in parameters
    grants = decrypt_grants(parameters)
    # the API function's role (the API, migrate and maintenance functions) and the mailer's
    assert set(grants) == {"ApiFunctionRole", "MailerFunctionRole"}
    current = parameter_values(transformed_template(parameters), parameters)["KmsKeyArn"]
    for role, resources in grants.items():
        assert resources == [current], role


def test_with_a_previous_key_the_grant_lists_both_keys() -> None:
    parameters = {**deploy_parameters("prod"), "PreviousSsmKeyArn": OLD_KEY}
    grants = decrypt_grants(parameters)
    current = parameter_values(transformed_template(parameters), parameters)["KmsKeyArn"]
    assert set(grants) == {"ApiFunctionRole", "MailerFunctionRole"}
    for role, resources in grants.items():
        assert resources == [current, OLD_KEY], role
