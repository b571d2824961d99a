"""Tenant signing keys (`<prefix>tenants/<id>/`): the API function reads them, and can write no
parameter at all (the admin CLI, `make tenant-create`, writes them with an operator's role)."""

from __future__ import annotations

import fnmatch

from tests.infra.cfn import load_template

SSM_WRITES = (
    "ssm:PutParameter",
    "ssm:DeleteParameter",
    "ssm:DeleteParameters",
    "ssm:LabelParameterVersion",
)


def _api_statements() -> list[dict[str, object]]:
    role = load_template("template.yaml")["Resources"]["ApiFunctionRole"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, object]) -> list[str]:
    action = statement["Action"]
    return list(action) if isinstance(action, list) else [str(action)]


def test_the_api_role_reads_tenant_keys_and_writes_no_parameter() -> None:
    statements = _api_statements()
    assert not [a for s in statements for a in _actions(s) if a in SSM_WRITES or "Put" in a]
    readers = [s for s in statements if "ssm:GetParameters" in _actions(s)]
    assert len(readers) == 1
    resource = readers[0]["Resource"]
    assert isinstance(resource, dict)
    pattern = str(resource["Fn::Sub"]).replace("${AWS::Partition}", "aws")
    pattern = pattern.replace("${AWS::Region}", "us-east-1").replace("${AWS::AccountId}", "1")
    pattern = pattern.replace("${Env}", "prod")
    tenant_key = "arn:aws:ssm:us-east-1:1:parameter/authapi/prod/tenants/acme/jwt/signing-key"
    assert fnmatch.fnmatchcase(tenant_key, pattern)
    other_env = "arn:aws:ssm:us-east-1:1:parameter/authapi/dev/tenants/acme/jwt/signing-key"
    assert not fnmatch.fnmatchcase(other_env, pattern)
