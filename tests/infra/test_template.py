"""The app stack (template.yaml): functions, layer, permissions, API and logs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.cfn import Template, function_properties, load_template, resources

pytestmark = pytest.mark.infra

FUNCTIONS = (
    "ApiFunction",
    "MigrateFunction",
    "MaintenanceFunction",
    "WhoAmIFunction",
    "MailerFunction",
)

LITERAL_ENVIRONMENT = {
    "AUTHAPI_ENVIRONMENT": "production",
    "AUTHAPI_DB_AUTH": "iam",
    "AUTHAPI_DB_REQUIRE_TLS": "true",
    "AUTHAPI_DB_CONNECT_TIMEOUT_SECONDS": "3",
    "AUTHAPI_DB_COMMAND_TIMEOUT_SECONDS": "5",
    "AUTHAPI_DB_POOL_SIZE": "1",
    "AUTHAPI_DB_MAX_OVERFLOW": "0",
    "AUTHAPI_DB_POOL_RECYCLE_SECONDS": "300",
    "AUTHAPI_SSM_CACHE_SECONDS": "300",
    "POWERTOOLS_SERVICE_NAME": "authapi",
    "POWERTOOLS_METRICS_NAMESPACE": "authapi",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
}
PARAMETER_ENVIRONMENT = {
    "AUTHAPI_ALLOWED_ORIGINS": {"Ref": "CorsAllowOrigins"},
    "AUTHAPI_TRUSTED_HOSTS": {
        "Fn::Sub": "*.execute-api.${AWS::Region}.amazonaws.com,${DomainName},${CustomDomains}"
    },
    "AUTHAPI_DB_ROLE_PREFIX": {"Ref": "DbRolePrefix"},
    # empty (the system trust store) unless the data stack has no proxy: the RDS CA bundle
    "AUTHAPI_DB_TLS_CA_FILE": {"Ref": "DbTlsCaFile"},
    "AUTHAPI_SSM_PARAMETER_PREFIX": {"Fn::Sub": "/authapi/${Env}/"},
    "AUTHAPI_JWT_ISSUER": {
        "Fn::If": [
            "HasIssuer",
            {"Ref": "Issuer"},
            {
                "Fn::If": [
                    "HasDomain",
                    {"Fn::Sub": "https://${DomainName}"},
                    {"Fn::Sub": "authapi-${Env}"},
                ]
            },
        ]
    },
    "AUTHAPI_JWT_AUDIENCE": {"Ref": "Audience"},
    "AUTHAPI_LOG_LEVEL": {"Ref": "LogLevel"},
    "AUTHAPI_OAUTH_PASSWORD_GRANT": {"Ref": "OAuthPasswordGrant"},
    # MFA (issue 14): whether every account needs a factor, what apps show, the step-up window
    "AUTHAPI_MFA_REQUIRED": {"Ref": "MfaRequired"},
    "AUTHAPI_MFA_ISSUER": {"Ref": "MfaIssuer"},
    "AUTHAPI_MFA_STEP_UP_SECONDS": {"Ref": "MfaStepUpSeconds"},
    # the account lifecycle: the API enforces verification, the mailer builds the links
    "AUTHAPI_REQUIRE_VERIFIED_EMAIL": {"Ref": "RequireVerifiedEmail"},
    "AUTHAPI_EMAIL_VERIFICATION_PATH": {"Ref": "EmailVerificationPath"},
    "AUTHAPI_PASSWORD_RESET_PATH": {"Ref": "PasswordResetPath"},
    "AUTHAPI_EMAIL_CHANGE_PATH": {"Ref": "EmailChangePath"},
    "AUTHAPI_PASSWORD_RESET_TTL_SECONDS": {"Ref": "PasswordResetTtlSeconds"},
}

# each function connects as its own database role: the API may touch rows, only migrations DDL
# (the example resource server has none: API Gateway checked its caller's token already)
DATABASE_ROLE = {
    "ApiFunction": "app",
    "MigrateFunction": "migrator",
    # the app's rights plus deleting audit rows by retention (issue 17)
    "MaintenanceFunction": "maintenance",
    "WhoAmIFunction": None,
    "MailerFunction": "app",
}
# each function's own variables beyond the database URL (issue 13: the mail path)
MAIL_QUEUE = {"AUTHAPI_MAIL_QUEUE_URL": {"Ref": "MailQueue"}}
# issue 17: the SES identities a tenant's sender may be at, the same list the IAM policies name
TENANT_MAIL_IDENTITIES = {"AUTHAPI_TENANT_MAIL_IDENTITIES": {"Ref": "TenantMailIdentityArns"}}
OWN_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "ApiFunction": {**MAIL_QUEUE, **TENANT_MAIL_IDENTITIES},
    "MaintenanceFunction": {
        **MAIL_QUEUE,
        # issue 17: the audit trail's bus and retention
        "AUTHAPI_EVENT_BUS_NAME": {"Ref": "AuditEventBus"},
        "AUTHAPI_AUDIT_RETENTION_DAYS": {"Ref": "AuditRetentionDays"},
    },
    "MailerFunction": {
        "AUTHAPI_MAIL_FROM": {"Ref": "MailFromAddress"},
        "AUTHAPI_MAIL_CONFIGURATION_SET": {"Ref": "MailConfigurationSet"},
        "AUTHAPI_MAIL_PRODUCT_NAME": {"Ref": "MailProductName"},
        "AUTHAPI_PUBLIC_APP_URL": {"Ref": "PublicAppUrl"},
        "AUTHAPI_MAIL_TRANSPORT": "ses-smtp",
        "AUTHAPI_MAIL_SMTP_HOST": {"Fn::Sub": "email-smtp.${AWS::Region}.amazonaws.com"},
        "AUTHAPI_MAIL_SMTP_CREDENTIALS_PARAMETER": {
            "Fn::Sub": "/authapi/${Env}/mail/smtp-credentials"
        },
        **TENANT_MAIL_IDENTITIES,
    },
}

API_STATEMENTS = [
    {
        "Sid": "ReadOwnParameters",
        "Effect": "Allow",
        "Action": ["ssm:GetParameter", "ssm:GetParameters"],
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
            ":parameter/authapi/${Env}/*"
        },
    },
    {
        "Sid": "DecryptSecureStringsThroughSsm",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        # the old key too only while PreviousSsmKeyArn is set (tests/infra/test_key_transition.py)
        "Resource": [
            {"Ref": "KmsKeyArn"},
            {
                "Fn::If": [
                    "HasPreviousSsmKey",
                    {"Ref": "PreviousSsmKeyArn"},
                    {"Ref": "AWS::NoValue"},
                ]
            },
        ],
        "Condition": {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}}
        },
    },
    {
        "Sid": "ConnectThroughProxyAsAppUser",
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}"
            ":dbuser:${DbProxyResourceId}/${DbRolePrefix}_app"
        },
    },
]
MIGRATE_STATEMENTS = [
    {
        "Sid": "ConnectThroughProxyAsMigrator",
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}"
            ":dbuser:${DbProxyResourceId}/${DbRolePrefix}_migrator"
        },
    },
    # the smoke flow after the migrations invokes the new version of the API function
    {
        "Sid": "SmokeTestTheNewVersion",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
            ":function:authapi-${Env}-api:*"
        },
    },
    {
        "Sid": "ReadTheDeployment",
        "Effect": "Allow",
        "Action": "codedeploy:GetDeployment",
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}"
            ":deploymentgroup:${ServerlessDeploymentApplication}/*"
        },
    },
    {
        "Sid": "ReportTheHookResult",
        "Effect": "Allow",
        "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}"
            ":deploymentgroup:${ServerlessDeploymentApplication}/*"
        },
    },
]
SEND_TO_THE_MAIL_QUEUE = {
    "Effect": "Allow",
    "Action": "sqs:SendMessage",
    "Resource": {"Fn::GetAtt": ["MailQueue", "Arn"]},
}
# the maintenance run deletes rows, re-queues mail and publishes audit events: its own database
# role, the queue, the stack's audit bus, and nothing else (no SSM, no keys, no other bus)
MAINTENANCE_STATEMENTS = [
    {
        "Sid": "ConnectThroughProxyAsMaintenanceUser",
        "Effect": "Allow",
        "Action": "rds-db:connect",
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}"
            ":dbuser:${DbProxyResourceId}/${DbRolePrefix}_maintenance"
        },
    },
    {"Sid": "RequeueMail", **SEND_TO_THE_MAIL_QUEUE},
    {
        "Sid": "PublishAuditEvents",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": {"Fn::GetAtt": ["AuditEventBus", "Arn"]},
    },
]
MAIL_IDENTITY_AND_SET = [
    {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
        ":identity/${MailDomain}"
    },
    {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
        ":configuration-set/${MailConfigurationSet}"
    },
]
MAILER_STATEMENTS = [
    API_STATEMENTS[-1],
    {
        "Sid": "ConsumeTheMailQueue",
        "Effect": "Allow",
        "Action": [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ],
        "Resource": {"Fn::GetAtt": ["MailQueue", "Arn"]},
    },
    API_STATEMENTS[0],
    API_STATEMENTS[1],
    {
        "Sid": "SendAsTheIdentityThroughTheConfigurationSet",
        "Effect": "Allow",
        "Action": "ses:SendEmail",
        "Resource": MAIL_IDENTITY_AND_SET,
    },
    {
        "Fn::If": [
            "HasTenantMailIdentities",
            {
                "Sid": "SendAsTheTenantIdentities",
                "Effect": "Allow",
                "Action": "ses:SendEmail",
                "Resource": {"Fn::Split": [",", {"Ref": "TenantMailIdentityArns"}]},
            },
            {"Ref": "AWS::NoValue"},
        ]
    },
]
STATEMENTS = {
    "ApiFunction": [*API_STATEMENTS, {"Sid": "NotifyTheMailQueue", **SEND_TO_THE_MAIL_QUEUE}],
    "MigrateFunction": MIGRATE_STATEMENTS,
    "MaintenanceFunction": MAINTENANCE_STATEMENTS,
    "WhoAmIFunction": [],  # no database, no SSM, no keys
    "MailerFunction": MAILER_STATEMENTS,
}
# the only managed policies: ENIs in the VPC plus logs, and X-Ray segments
MANAGED_POLICIES = [
    {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/" + name}
    for name in ("service-role/AWSLambdaVPCAccessExecutionRole", "AWSXRayDaemonWriteAccess")
]


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template("template.yaml")


@pytest.fixture(scope="module")
def data_template() -> Template:
    return load_template("infra/data.yaml")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_run_python313_on_arm64_with_the_layer(template: Template, name: str) -> None:
    properties = function_properties(template, name)
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["CodeUri"] == "functions/"
    assert properties["Layers"] == [{"Ref": "DependenciesLayer"}]
    assert properties["Tracing"] == "Active"
    assert properties["AutoPublishAlias"] == "live"
    assert properties["VpcConfig"] == {
        "SubnetIds": {"Ref": "PrivateSubnetIds"},
        "SecurityGroupIds": [{"Ref": "LambdaSecurityGroupId"}],
    }
    # functions/Makefile ships the package with ahead-of-time bytecode
    assert template["Resources"][name]["Metadata"] == {"BuildMethod": "makefile"}


def test_build_makefiles_compile_bytecode_that_survives_zipping() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for makefile in (root / "functions" / "Makefile", root / "layers" / "Makefile"):
        text = makefile.read_text()
        assert "compileall" in text
        assert "--invalidation-mode unchecked-hash" in text, makefile


def test_handlers_and_timeouts(template: Template) -> None:
    api = function_properties(template, "ApiFunction")
    migrate = function_properties(template, "MigrateFunction")
    assert api["Handler"] == "authapi.handlers.api.handler"
    assert migrate["Handler"] == "authapi.handlers.migrate.handler"
    assert "Events" not in migrate, "the migrate function runs as a deploy hook, never for the API"
    assert migrate["Timeout"] > api["Timeout"]
    # API Gateway's integration timeout must outlast the function, or clients see 503s for work done
    assert api["Events"]["Http"]["Properties"]["TimeoutInMillis"] > api["Timeout"] * 1000


def test_maintenance_runs_on_its_schedule_and_only_on_it(template: Template) -> None:
    maintenance = function_properties(template, "MaintenanceFunction")
    assert maintenance["Handler"] == "authapi.handlers.maintenance.handler"
    assert maintenance["FunctionName"] == {"Fn::Sub": "authapi-${Env}-maintenance"}
    (schedule,) = maintenance["Events"].values()
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "MaintenanceSchedule"}
    # two environments in one account must not share a schedule name
    assert "${Env}" in schedule["Properties"]["Name"]["Fn::Sub"]
    # a failed run is the next run's to redo: neither the scheduler nor Lambda retries it
    assert schedule["Properties"]["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    assert maintenance["EventInvokeConfig"] == {"MaximumRetryAttempts": 0}
    # new code purges only after the deploy's PreTraffic hook migrated the schema
    assert template["Resources"]["MaintenanceFunction"]["DependsOn"] == "ApiFunctionAliaslive"


def test_maintenance_has_time_for_batches(template: Template) -> None:
    from authapi.config import Settings
    from authapi.maintenance import batch_reserve_seconds

    maintenance = function_properties(template, "MaintenanceFunction")
    variables = maintenance["Environment"]["Variables"]
    settings = Settings(
        environment="test",
        db_connect_timeout_seconds=float(variables["AUTHAPI_DB_CONNECT_TIMEOUT_SECONDS"]),
        db_command_timeout_seconds=float(variables["AUTHAPI_DB_COMMAND_TIMEOUT_SECONDS"]),
    )
    # a batch starts only while its worst case fits: most of the timeout is left for batches
    assert maintenance["Timeout"] >= 5 * batch_reserve_seconds(settings)


def test_layer_builds_python313_arm64_from_layers_dir(template: Template) -> None:
    layer = template["Resources"]["DependenciesLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_environment_is_exactly_the_app_contract(template: Template, name: str) -> None:
    variables = function_properties(template, name)["Environment"]["Variables"]
    role = DATABASE_ROLE[name]
    own = {}
    if role is not None:
        own["AUTHAPI_DATABASE_URL"] = {
            "Fn::Sub": f"postgresql://${{DbRolePrefix}}_{role}@${{DbProxyEndpoint}}:5432/${{DbName}}"
        }
    own.update(OWN_ENVIRONMENT.get(name, {}))
    assert variables == {**LITERAL_ENVIRONMENT, **PARAMETER_ENVIRONMENT, **own}


def test_pool_recycles_before_the_proxy_drops_idle_clients(data_template: Template) -> None:
    proxy = data_template["Resources"]["DbProxy"]["Properties"]
    recycle = int(LITERAL_ENVIRONMENT["AUTHAPI_DB_POOL_RECYCLE_SECONDS"])
    assert recycle < proxy["IdleClientTimeout"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_its_own_scoped_role(template: Template, name: str) -> None:
    properties = function_properties(template, name)
    assert properties["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}
    assert "Policies" not in properties, "SAM policies would add grants next to the role's"
    role = template["Resources"][f"{name}Role"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert role["ManagedPolicyArns"] == MANAGED_POLICIES
    statements = [policy["PolicyDocument"]["Statement"] for policy in role.get("Policies", [])]
    assert statements == ([STATEMENTS[name]] if STATEMENTS[name] else [])


def _statements(template: Template) -> list[dict[str, Any]]:
    found = []
    for role in resources(template, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            found.extend(policy["PolicyDocument"]["Statement"])
    for policy in resources(template, "AWS::IAM::Policy").values():
        found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    # a statement under a condition is checked as the statement it becomes
    return [statement["Fn::If"][1] if "Fn::If" in statement else statement for statement in found]


@pytest.mark.parametrize("path", ["template.yaml", "infra/data.yaml"])
def test_no_wildcard_actions_or_resources_in_iam_policies(path: str) -> None:
    statements = _statements(load_template(path))
    assert statements
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not [action for action in actions if "*" in action], statement
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        resources_ = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        assert "*" not in resources_, statement


def test_http_api_uses_payload_2_throttling_and_json_access_logs(template: Template) -> None:
    event = template["Resources"]["ApiFunction"]["Properties"]["Events"]["Http"]
    assert event["Type"] == "HttpApi"
    assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    assert event["Properties"]["PayloadFormatVersion"] == "2.0"

    api = template["Resources"]["HttpApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    assert api["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottleBurstLimit"},
    }
    access_logs = api["Properties"]["AccessLogSettings"]
    assert access_logs["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(access_logs["Format"])
    assert {"requestId", "status", "path", "responseLatency"} <= set(fields)
    assert "$context.path" in fields.values()  # the path alone: query strings may carry secrets


@pytest.mark.parametrize("path", ["template.yaml", "infra/data.yaml"])
def test_every_log_group_has_a_retention(path: str) -> None:
    log_groups = resources(load_template(path), "AWS::Logs::LogGroup")
    assert log_groups
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_log_to_their_own_retained_group(template: Template, name: str) -> None:
    properties = function_properties(template, name)
    log_group_name = properties["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = template["Resources"][log_group_name]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    # the same name Lambda would pick, so nothing ever creates a second, unretained group
    assert log_group["Properties"]["LogGroupName"] == {
        "Fn::Sub": "/aws/lambda/" + properties["FunctionName"]["Fn::Sub"]
    }


def test_outputs_name_the_api_the_issuer_and_the_functions(template: Template) -> None:
    outputs = template["Outputs"]
    api_url = outputs["ApiUrl"]["Value"]["Fn::Sub"]
    for output, path in (
        ("JwksUrl", "/.well-known/jwks.json"),
        ("OpenIdConfigurationUrl", "/.well-known/openid-configuration"),
    ):
        assert outputs[output]["Value"] == {
            "Fn::If": [
                "HasDomain",
                {"Fn::Sub": "https://${DomainName}" + path},
                {"Fn::Sub": api_url + path},
            ]
        }
    assert outputs["Issuer"]["Value"] == PARAMETER_ENVIRONMENT["AUTHAPI_JWT_ISSUER"]
    assert outputs["MigrateFunctionName"]["Value"] == {"Ref": "MigrateFunction"}
    assert outputs["ApiFunctionName"]["Value"] == {"Ref": "ApiFunction"}
    assert outputs["MaintenanceFunctionName"]["Value"] == {"Ref": "MaintenanceFunction"}


def test_ssm_typed_parameters_read_what_the_data_stack_publishes(
    template: Template, data_template: Template
) -> None:
    published = {
        parameter["Properties"]["Name"]["Fn::Sub"]
        for parameter in resources(data_template, "AWS::SSM::Parameter").values()
    }
    ssm_typed = {
        name: parameter
        for name, parameter in template["Parameters"].items()
        if parameter["Type"].startswith("AWS::SSM::Parameter::Value<")
    }
    assert len(ssm_typed) == 8
    for name, parameter in ssm_typed.items():
        default = parameter["Default"]
        assert default.startswith("/authapi/dev/"), name
        assert default.replace("/authapi/dev/", "/authapi/${Env}/", 1) in published, name


def test_every_function_built_by_makefile_has_its_target(template: Template) -> None:
    # sam build runs `make build-<LogicalId>`: a function added without a target breaks the build
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "functions" / "Makefile").read_text()
    targets = {
        word.rstrip(":")
        for line in makefile.splitlines()
        if line and not line[0].isspace() and ":" in line
        for word in line.split(":", 1)[0].split()
    }
    built = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource.get("Metadata", {}).get("BuildMethod") == "makefile"
    }
    assert built >= set(FUNCTIONS)
    assert {f"build-{name}" for name in built} <= targets
