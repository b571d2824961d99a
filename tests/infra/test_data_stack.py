"""The data stack (infra/data.yaml): what the app relies on from it."""

from __future__ import annotations

import pytest

from tests.infra.cfn import Template, load_template, resources

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def data_template() -> Template:
    return load_template("infra/data.yaml")


def test_proxy_takes_iam_auth_end_to_end_over_tls(data_template: Template) -> None:
    proxy = data_template["Resources"]["DbProxy"]["Properties"]
    assert proxy["EngineFamily"] == "POSTGRESQL"
    assert proxy["RequireTLS"] is True
    # clients to the proxy and the proxy to the database: IAM tokens, no stored password
    assert proxy["DefaultAuthScheme"] == "IAM_AUTH"
    assert "Auth" not in proxy
    role = data_template["Resources"]["DbProxyRole"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "rds-db:connect"
    users = [resource["Fn::Sub"].rsplit("/", 1)[1] for resource in statement["Resource"]]
    assert users == [
        "${DbRolePrefix}_app",
        "${DbRolePrefix}_migrator",
        "${DbRolePrefix}_maintenance",
    ]


def test_database_is_encrypted_private_and_its_master_password_managed(
    data_template: Template,
) -> None:
    cluster = data_template["Resources"]["DbCluster"]
    properties = cluster["Properties"]
    assert properties["StorageEncrypted"] is True
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert properties["EnableIAMDatabaseAuthentication"] is True
    # RDS keeps and rotates the master password; no template, parameter or function holds it
    assert properties["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in properties
    assert not resources(data_template, "AWS::SecretsManager::Secret")
    for instance in resources(data_template, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["PubliclyAccessible"] is False


def test_proxy_resource_id_is_cut_from_the_proxy_arn(data_template: Template) -> None:
    # arn:aws:rds:<region>:<account>:db-proxy:prx-... -> field 6 is the prx-... id
    value = data_template["Resources"]["ProxyResourceIdParameter"]["Properties"]["Value"]
    # without the proxy (CostProfile economy) the cluster's own id is what rds-db:connect names
    assert value == {
        "Fn::If": [
            "UsesProxy",
            {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["DbProxy", "DBProxyArn"]}]}]},
            {"Fn::GetAtt": ["DbCluster", "DBClusterResourceId"]},
        ]
    }


# the conditions CostProfile decides, and the one profile each holds in
PROFILE_CONDITIONS = {"UsesProxy": "standard", "IsEconomy": "economy"}
# PostgreSQL's path in each profile: through the proxy, or to the writer itself
POSTGRES_PATHS = {
    "standard": {
        ("LambdaSecurityGroup", "ProxySecurityGroup", 5432),
        ("ProxySecurityGroup", "DbSecurityGroup", 5432),
    },
    "economy": {("LambdaSecurityGroup", "DbSecurityGroup", 5432)},
}


def in_profile(resource: dict[str, object], profile: str) -> bool:
    """Whether the resource exists in a stack of this CostProfile."""
    condition = resource.get("Condition")
    if condition is None or condition not in PROFILE_CONDITIONS:
        return True
    return PROFILE_CONDITIONS[str(condition)] == profile


@pytest.mark.parametrize("profile", ["standard", "economy"])
def test_postgres_reachable_only_lambda_to_proxy_to_database(
    data_template: Template, profile: str
) -> None:
    ingress = {
        (
            rule["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0],
            rule["Properties"]["GroupId"]["Fn::GetAtt"][0],
            rule["Properties"]["FromPort"],
        )
        for rule in resources(data_template, "AWS::EC2::SecurityGroupIngress").values()
        if in_profile(rule, profile)
    }
    assert ingress == {
        *POSTGRES_PATHS[profile],
        ("LambdaSecurityGroup", "EndpointSecurityGroup", 443),
        ("LambdaSecurityGroup", "EndpointSecurityGroup", 587),  # SMTP submission (issue 13)
    }
    for group in resources(data_template, "AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]


def test_lambdas_reach_ssm_sqs_ses_smtp_lambda_and_codedeploy_without_a_nat(
    data_template: Template,
) -> None:
    # SSM decrypts SecureStrings with KMS itself: nothing here calls KMS, so no KMS endpoint;
    # the mail queue through SQS's, and SES through its SMTP interface's (issue 13); the
    # PreTraffic hook invokes the new version and reports to CodeDeploy (issue 16)
    endpoints = resources(data_template, "AWS::EC2::VPCEndpoint").values()
    services = {endpoint["Properties"]["ServiceName"]["Fn::Sub"] for endpoint in endpoints}
    assert services == {
        "com.amazonaws.${AWS::Region}.ssm",
        "com.amazonaws.${AWS::Region}.sqs",
        "com.amazonaws.${AWS::Region}.email-smtp",
        "com.amazonaws.${AWS::Region}.lambda",
        "com.amazonaws.${AWS::Region}.codedeploy",
        # the maintenance run's PutEvents (issue 17)
        "com.amazonaws.${AWS::Region}.events",
    }
    for endpoint in endpoints:
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    assert not resources(data_template, "AWS::EC2::NatGateway")
    assert not resources(data_template, "AWS::EC2::InternetGateway")


@pytest.mark.parametrize("profile", ["standard", "economy"])
def test_every_security_group_states_its_egress(data_template: Template, profile: str) -> None:
    # without SecurityGroupEgress a group keeps the default allow-all, whatever rules sit beside it
    for name, group in resources(data_template, "AWS::EC2::SecurityGroup").items():
        (placeholder,) = group["Properties"]["SecurityGroupEgress"]
        assert placeholder["CidrIp"] == "127.0.0.1/32", name
    egress = {
        (
            rule["Properties"]["GroupId"]["Fn::GetAtt"][0],
            rule["Properties"]["DestinationSecurityGroupId"]["Fn::GetAtt"][0],
            rule["Properties"]["FromPort"],
        )
        for rule in resources(data_template, "AWS::EC2::SecurityGroupEgress").values()
        if in_profile(rule, profile)
    }
    assert egress == {
        *POSTGRES_PATHS[profile],
        ("LambdaSecurityGroup", "EndpointSecurityGroup", 443),
        ("LambdaSecurityGroup", "EndpointSecurityGroup", 587),
    }
