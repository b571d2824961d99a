"""The data stack (infra/data.yaml): what the app relies on from it."""

from __future__ import annotations

import pytest

from tests.infra.cfn import Template, load_template, resources

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def data_template() -> Template:
    return load_template("infra/data.yaml")


def test_proxy_takes_only_iam_auth_over_tls(data_template: Template) -> None:
    proxy = data_template["Resources"]["DbProxy"]["Properties"]
    assert proxy["EngineFamily"] == "POSTGRESQL"
    assert proxy["RequireTLS"] is True
    assert [auth["IAMAuth"] for auth in proxy["Auth"]] == ["REQUIRED"]
    assert proxy["Auth"][0]["SecretArn"] == {"Ref": "DbSecret"}


def test_database_is_encrypted_private_and_uses_the_proxy_secret(data_template: Template) -> None:
    cluster = data_template["Resources"]["DbCluster"]
    assert cluster["Properties"]["StorageEncrypted"] is True
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert "DbSecret" in cluster["Properties"]["MasterUserPassword"]["Fn::Sub"]
    for instance in resources(data_template, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["PubliclyAccessible"] is False
    secret = data_template["Resources"]["DbSecret"]["Properties"]["GenerateSecretString"]
    assert secret["GenerateStringKey"] == "password"


def test_proxy_resource_id_is_cut_from_the_proxy_arn(data_template: Template) -> None:
    # arn:aws:rds:<region>:<account>:db-proxy:prx-... -> field 6 is the prx-... id
    value = data_template["Resources"]["ProxyResourceIdParameter"]["Properties"]["Value"]
    assert value == {
        "Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["DbProxy", "DBProxyArn"]}]}]
    }


def test_postgres_reachable_only_lambda_to_proxy_to_database(data_template: Template) -> None:
    ingress = {
        (
            rule["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0],
            rule["Properties"]["GroupId"]["Fn::GetAtt"][0],
            rule["Properties"]["FromPort"],
        )
        for rule in resources(data_template, "AWS::EC2::SecurityGroupIngress").values()
    }
    assert ingress == {
        ("LambdaSecurityGroup", "ProxySecurityGroup", 5432),
        ("ProxySecurityGroup", "DbSecurityGroup", 5432),
        ("LambdaSecurityGroup", "EndpointSecurityGroup", 443),
    }
    for group in resources(data_template, "AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]


def test_lambdas_reach_ssm_and_kms_without_a_nat(data_template: Template) -> None:
    endpoints = resources(data_template, "AWS::EC2::VPCEndpoint").values()
    services = {endpoint["Properties"]["ServiceName"]["Fn::Sub"] for endpoint in endpoints}
    assert services == {"com.amazonaws.${AWS::Region}.ssm", "com.amazonaws.${AWS::Region}.kms"}
    for endpoint in endpoints:
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    assert not resources(data_template, "AWS::EC2::NatGateway")
    assert not resources(data_template, "AWS::EC2::InternetGateway")
