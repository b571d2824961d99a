"""What CloudFormation receives for each samconfig environment: template.yaml after the SAM
transform, checked resource by resource, and the data stack with each environment's parameters.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from authapi.app import (
    CORS_EXPOSED_HEADERS,
    CORS_MAX_AGE_SECONDS,
    CORS_METHODS,
    CORS_REQUEST_HEADERS,
    create_app,
)
from authapi.config import Settings
from authapi.signing.ssm import SSM_WORST_CASE_SECONDS
from tests.infra.cfn import load_template
from tests.support.routes import every_api_route
from tests.support.sam import (
    NO_VALUE,
    Template,
    app_environments,
    condition,
    data_environments,
    deploy_parameters,
    parameter_values,
    resolve,
    transformed_template,
)

pytestmark = pytest.mark.infra

APP_ENVIRONMENTS = app_environments()
DATA_ENVIRONMENTS = data_environments()


def test_samconfig_has_the_environments_these_tests_cover() -> None:
    assert set(APP_ENVIRONMENTS) == {"dev", "prod"}
    assert set(DATA_ENVIRONMENTS) == {"data-dev", "data-prod"}


@pytest.fixture(scope="module", params=APP_ENVIRONMENTS)
def deployed(request: pytest.FixtureRequest) -> tuple[Template, dict[str, str]]:
    """(the transformed template, every parameter's value) for one environment."""
    parameters = deploy_parameters(request.param)
    template = transformed_template(parameters)
    return template, parameter_values(template, parameters)


def _resources_of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _function(template: Template, name: str) -> dict[str, Any]:
    resource = template["Resources"][name]
    assert resource["Type"] == "AWS::Lambda::Function"
    properties: dict[str, Any] = resource["Properties"]
    return properties


def _cors(template: Template, values: dict[str, str]) -> Any:
    body = template["Resources"]["HttpApi"]["Properties"]["Body"]
    return resolve(body.get("x-amazon-apigateway-cors", NO_VALUE), template, values)


# 1. CORS


def test_api_gateway_answers_cors_with_every_setting(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    template, values = deployed
    assert _cors(template, values) == {
        "allowOrigins": values["CorsAllowOrigins"].split(","),
        "allowMethods": [*CORS_METHODS, "OPTIONS"],
        "allowHeaders": list(CORS_REQUEST_HEADERS),
        "exposeHeaders": list(CORS_EXPOSED_HEADERS),
        "allowCredentials": False,
        "maxAge": CORS_MAX_AGE_SECONDS,
    }


def test_cors_allows_every_method_the_app_routes() -> None:
    routed = {
        method
        for route in every_api_route(create_app(Settings(environment="test")))
        for method in route.methods or ()
    } - {"HEAD"}
    assert routed <= set(CORS_METHODS)


def test_no_origins_means_no_cors_at_all() -> None:
    parameters = {**deploy_parameters("dev"), "CorsAllowOrigins": ""}
    template = transformed_template(parameters)
    assert _cors(template, parameter_values(template, parameters)) is NO_VALUE


def test_the_app_gets_the_origins_api_gateway_allows(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    template, values = deployed
    for name in ("ApiFunction", "MigrateFunction"):
        variables = _function(template, name)["Environment"]["Variables"]
        assert (
            resolve(variables["AUTHAPI_ALLOWED_ORIGINS"], template, values)
            == (values["CorsAllowOrigins"])
        )


# 2. migrations before traffic


def test_the_api_alias_moves_only_after_the_migrate_hook(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    template, _ = deployed
    alias = template["Resources"]["ApiFunctionAliaslive"]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": "MigrateFunction"}
    (group_name,) = _resources_of_type(template, "AWS::CodeDeploy::DeploymentGroup")
    assert update["DeploymentGroupName"] == {"Ref": group_name}
    # the API invokes the alias CodeDeploy moves, never $LATEST
    integration = template["Resources"]["HttpApi"]["Properties"]["Body"]["paths"]["/$default"][
        "x-amazon-apigateway-any-method"
    ]["x-amazon-apigateway-integration"]
    assert "ApiFunctionAliaslive" in str(integration["uri"])


def test_a_migration_never_runs_twice_for_one_deploy(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    template, _ = deployed
    # CodeDeploy invokes the hook asynchronously: Lambda's own retries would start a second run
    configs = [
        config["Properties"]
        for config in _resources_of_type(template, "AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": "MigrateFunction"}
    ]
    assert [config["MaximumRetryAttempts"] for config in configs] == [0]
    migrate = _function(template, "MigrateFunction")
    # the prefix SAM's CodeDeploy role may invoke as a lifecycle hook
    assert migrate["FunctionName"]["Fn::Sub"].startswith("CodeDeployHook_")
    assert "ApiFunction" not in str(migrate.get("Environment"))


# 3. each function as its own database role


@pytest.mark.parametrize(
    ("function", "role"),
    [
        ("ApiFunction", "app"),
        ("MigrateFunction", "migrator"),
        ("MaintenanceFunction", "maintenance"),
    ],
)
def test_each_function_connects_as_its_own_database_role_only(
    deployed: tuple[Template, dict[str, str]], function: str, role: str
) -> None:
    template, _ = deployed
    properties = _function(template, function)
    url = properties["Environment"]["Variables"]["AUTHAPI_DATABASE_URL"]["Fn::Sub"]
    assert url.startswith(f"postgresql://${{DbRolePrefix}}_{role}@")
    role_name = properties["Role"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in template["Resources"][role_name]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    connects = [s["Resource"]["Fn::Sub"] for s in statements if s["Action"] == "rds-db:connect"]
    assert connects == [
        "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}"
        f":dbuser:${{DbProxyResourceId}}/${{DbRolePrefix}}_{role}"
    ]


def test_the_functions_do_not_share_a_role(deployed: tuple[Template, dict[str, str]]) -> None:
    template, _ = deployed
    roles = {
        _function(template, name)["Role"]["Fn::GetAtt"][0]
        for name in ("ApiFunction", "MigrateFunction", "MaintenanceFunction")
    }
    assert len(roles) == 3


def test_the_scheduler_invokes_the_maintenance_alias_and_nothing_else(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    template, _ = deployed
    (schedule,) = _resources_of_type(template, "AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "MaintenanceSchedule"}
    # the alias: the version published with this deploy, never $LATEST
    assert target["Arn"] == {"Ref": "MaintenanceFunctionAliaslive"}
    role = template["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    statements = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Ref": "MaintenanceFunctionAliaslive"},
        }
    ]
    # its code changes only after the API's alias moved, i.e. after the migrate hook succeeded
    assert template["Resources"]["MaintenanceFunction"]["DependsOn"] == "ApiFunctionAliaslive"


# 5. alarms that notify someone, and fire when they should


def test_prod_cannot_deploy_without_an_alarm_email() -> None:
    template = load_template("template.yaml")
    rule = template["Rules"]["ProdAlarmsNotifySomeone"]
    for env, refused in (("dev", False), ("prod", True)):
        values = parameter_values(template, deploy_parameters(env))
        applies = resolve(rule["RuleCondition"], template, values)
        holds = all(resolve(a["Assert"], template, values) for a in rule["Assertions"])
        assert (applies and not holds) is refused, env
        with_email = {**values, "AlarmEmail": "ops@example.com"}
        assert all(resolve(a["Assert"], template, with_email) for a in rule["Assertions"])


def test_alarms_reach_the_topic_and_the_email(deployed: tuple[Template, dict[str, str]]) -> None:
    template, values = deployed
    alarms = _resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert {"Api5xxCountAlarm", "DatabaseUnavailableAlarm", "ApiLatencyP99Alarm"} <= set(alarms)
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert condition(template, subscription["Condition"], {**values, "AlarmEmail": "a@b.example"})


def test_a_request_fits_the_function_timeout(deployed: tuple[Template, dict[str, str]]) -> None:
    # SSM's worst case, then a new connection and one statement: still our 503, not a timeout
    template, _ = deployed
    api = _function(template, "ApiFunction")
    variables = api["Environment"]["Variables"]
    connect = float(variables["AUTHAPI_DB_CONNECT_TIMEOUT_SECONDS"])
    command = float(variables["AUTHAPI_DB_COMMAND_TIMEOUT_SECONDS"])
    assert SSM_WORST_CASE_SECONDS + connect + command < api["Timeout"]
    data = load_template("infra/data.yaml")
    pool = data["Resources"]["DbProxyTargetGroup"]["Properties"]["ConnectionPoolConfigurationInfo"]
    # a proxy still waiting for a database connection answers before our statement gives up
    assert pool["ConnectionBorrowTimeout"] <= command


# 6. cold starts: one mode at a time

COLD_START_MODES = ("none", "snapstart", "provisioned")


@pytest.fixture(scope="module", params=COLD_START_MODES)
def cold_start(request: pytest.FixtureRequest) -> tuple[str, Template, dict[str, str]]:
    """(the mode, the transformed template, every parameter's value) with dev's parameters."""
    parameters = {
        **deploy_parameters("dev"),
        "ColdStartMode": request.param,
        "ProvisionedConcurrency": "3",
    }
    template = transformed_template(parameters)
    return request.param, template, parameter_values(template, parameters)


def _snapstart(template: Template, values: dict[str, str], function: str) -> Any:
    return resolve(_function(template, function).get("SnapStart", NO_VALUE), template, values)


def _provisioned(template: Template, values: dict[str, str], alias: str) -> Any:
    properties = template["Resources"][alias]["Properties"]
    return resolve(properties.get("ProvisionedConcurrencyConfig", NO_VALUE), template, values)


def test_each_cold_start_mode_configures_exactly_itself(
    cold_start: tuple[str, Template, dict[str, str]],
) -> None:
    mode, template, values = cold_start
    snapstart = _snapstart(template, values, "ApiFunction")
    provisioned = _provisioned(template, values, "ApiFunctionAliaslive")
    if mode == "snapstart":
        assert snapstart == {"ApplyOn": "PublishedVersions"}
    else:
        assert snapstart is NO_VALUE
    if mode == "provisioned":
        # on the alias the API invokes, with the count asked for
        assert provisioned == {"ProvisionedConcurrentExecutions": "3"}
    else:
        assert provisioned is NO_VALUE


def test_the_other_functions_never_snapshot_nor_stay_warm(
    cold_start: tuple[str, Template, dict[str, str]],
) -> None:
    _, template, values = cold_start
    for function in ("MigrateFunction", "MaintenanceFunction"):
        assert _snapstart(template, values, function) is NO_VALUE
        assert _provisioned(template, values, f"{function}Aliaslive") is NO_VALUE


def test_snapstart_gets_a_function_it_supports(deployed: tuple[Template, dict[str, str]]) -> None:
    # SnapStart: python3.12 and later, no EFS, ephemeral storage up to 512 MB
    template, _ = deployed
    api = _function(template, "ApiFunction")
    runtime = re.fullmatch(r"python3\.(\d+)", api["Runtime"])
    assert runtime is not None
    assert int(runtime.group(1)) >= 12
    assert "FileSystemConfigs" not in api
    assert api.get("EphemeralStorage", {"Size": 512})["Size"] <= 512


def test_a_mode_change_alone_publishes_a_new_version(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    # A snapshot is taken of a version as it is published, and SAM names versions by code and
    # environment only: switching to snapstart without a code change would keep the old,
    # unsnapshotted version. The version's description names the mode, and CloudFormation
    # replaces a version whose description changed.
    template, _ = deployed
    (version,) = (
        resource
        for name, resource in template["Resources"].items()
        if name.startswith("ApiFunctionVersion")
    )
    assert "${ColdStartMode}" in version["Properties"]["Description"]["Fn::Sub"]


# 7. the issuer, its custom domain, and resource servers behind the JWT authorizer

DOMAIN = {
    "DomainName": "auth.example.com",
    "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f",
}


def _refusals(parameters: dict[str, str]) -> set[str]:
    """The template's rules that refuse a deploy with these parameters."""
    template = load_template("template.yaml")
    values = parameter_values(template, parameters)
    return {
        name
        for name, rule in template["Rules"].items()
        if resolve(rule.get("RuleCondition", True), template, values)
        and not all(resolve(a["Assert"], template, values) for a in rule["Assertions"])
    }


def _issuer(template: Template, values: dict[str, str]) -> Any:
    variables = _function(template, "ApiFunction")["Environment"]["Variables"]
    return resolve(variables["AUTHAPI_JWT_ISSUER"], template, values)


@pytest.mark.parametrize(
    ("given", "issuer"),
    [
        ({}, "authapi-dev"),  # the first of the two-step deploy: a name, not yet a URL
        ({"Issuer": "https://abc123.execute-api.us-east-1.amazonaws.com"}, None),
        (DOMAIN, "https://auth.example.com"),
        ({**DOMAIN, "Issuer": "https://id.example.com"}, "https://id.example.com"),
    ],
)
def test_the_issuer_is_the_domain_unless_given(given: dict[str, str], issuer: str | None) -> None:
    parameters = {**deploy_parameters("dev"), **given}
    template = transformed_template(parameters)
    values = parameter_values(template, parameters)
    assert _issuer(template, values) == (issuer or given["Issuer"])
    assert _refusals(parameters) == set()


def test_a_custom_domain_is_mapped_to_the_api_with_its_certificate() -> None:
    parameters = {**deploy_parameters("dev"), **DOMAIN}
    template = transformed_template(parameters)
    values = parameter_values(template, parameters)
    domain = template["Resources"]["CustomDomain"]
    assert condition(template, domain["Condition"], values)
    assert resolve(domain["Properties"], template, values) == {
        "DomainName": "auth.example.com",
        "DomainNameConfigurations": [
            {
                "CertificateArn": DOMAIN["CertificateArn"],
                "EndpointType": "REGIONAL",
                "SecurityPolicy": "TLS_1_2",
            }
        ],
    }
    mapping = template["Resources"]["CustomDomainMapping"]
    assert mapping["Condition"] == domain["Condition"]
    assert mapping["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    stage = mapping["Properties"]["Stage"]["Ref"]
    assert template["Resources"][stage]["Type"] == "AWS::ApiGatewayV2::Stage"
    # the app answers for its own domain (and refuses any other Host)
    hosts = _function(template, "ApiFunction")["Environment"]["Variables"]["AUTHAPI_TRUSTED_HOSTS"]
    assert "${DomainName}" in hosts["Fn::Sub"]
    # no domain: none of it exists
    without = parameter_values(template, deploy_parameters("dev"))
    assert not condition(template, domain["Condition"], without)


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({}, {"ProdIssuerIsHttps"}),
        (DOMAIN, set()),
        ({"Issuer": "https://abc123.execute-api.us-east-1.amazonaws.com"}, set()),
        ({"DomainName": "auth.example.com"}, {"DomainNeedsCertificate"}),
    ],
)
def test_prod_refuses_an_issuer_that_is_not_https(given: dict[str, str], refused: set[str]) -> None:
    parameters = {**deploy_parameters("prod"), "AlarmEmail": "ops@example.com", **given}
    assert _refusals(parameters) == refused


@pytest.mark.parametrize(
    ("issuer", "allowed"),
    [
        ("", True),
        ("https://auth.example.com", True),
        ("https://auth.example.com/tenant-a", True),
        ("http://auth.example.com", False),
        ("https://auth.example.com/", False),  # verifiers compare iss exactly: one spelling
        ("authapi-prod", False),
        ("https://auth.example.com?x=1", False),
    ],
)
def test_an_issuer_given_is_an_https_url(issuer: str, allowed: bool) -> None:
    pattern = load_template("template.yaml")["Parameters"]["Issuer"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, issuer)) is allowed


def test_the_jwt_authorizer_checks_our_issuer_and_audience(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    template, values = deployed
    body = template["Resources"]["HttpApi"]["Properties"]["Body"]
    scheme = body["components"]["securitySchemes"]["AuthapiJwt"]
    authorizer = resolve(scheme["x-amazon-apigateway-authorizer"], template, values)
    variables = _function(template, "ApiFunction")["Environment"]["Variables"]
    issuer = resolve(variables["AUTHAPI_JWT_ISSUER"], template, values)
    assert authorizer == {
        "type": "jwt",
        "identitySource": "$request.header.Authorization",
        "jwtConfiguration": {
            # the very issuer and audience the app signs with, once the issuer is a URL; before
            # that a URL no token names (the authorizer refuses everything until then)
            "issuer": issuer if issuer.startswith("https://") else f"https://{issuer}.invalid",
            "audience": [resolve(variables["AUTHAPI_JWT_AUDIENCE"], template, values)],
        },
    }


def test_only_the_example_route_is_behind_the_authorizer(
    deployed: tuple[Template, dict[str, str]],
) -> None:
    template, _ = deployed
    paths = template["Resources"]["HttpApi"]["Properties"]["Body"]["paths"]
    guarded = {
        (method, path): operation
        for path, item in paths.items()
        for method, operation in item.items()
        if operation.get("security")
    }
    assert list(guarded) == [("get", "/api/v1/examples/whoami")]
    (whoami,) = guarded.values()
    assert whoami["security"] == [{"AuthapiJwt": []}]
    integration = whoami["x-amazon-apigateway-integration"]
    assert "${WhoAmIFunctionAliaslive}" in integration["uri"]["Fn::Sub"]
    assert integration["payloadFormatVersion"] == "2.0"
    # the auth API itself checks tokens in the app, where a logout counts at once
    default = paths["/$default"]["x-amazon-apigateway-any-method"]
    assert "security" not in default
    assert "${ApiFunctionAliaslive}" in default["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]


def test_the_example_function_touches_nothing(deployed: tuple[Template, dict[str, str]]) -> None:
    template, _ = deployed
    whoami = _function(template, "WhoAmIFunction")
    assert whoami["Handler"] == "authapi.handlers.whoami.handler"
    role = template["Resources"][whoami["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert "Policies" not in role  # no database, no SSM, no keys
    assert "AUTHAPI_DATABASE_URL" not in whoami["Environment"]["Variables"]


# 4 and 5: the data stack, with each environment's parameters


@pytest.mark.parametrize("env", DATA_ENVIRONMENTS)
def test_each_environment_names_an_engine_version(env: str) -> None:
    template = load_template("infra/data.yaml")
    declared = template["Parameters"]["EngineVersion"]
    assert "Default" not in declared, "a default goes stale: each environment names its version"
    parameters = deploy_parameters(env)
    assert re.fullmatch(declared["AllowedPattern"], parameters["EngineVersion"])
    assert set(parameters) <= set(template["Parameters"])
    assert parameters["Env"] == env.removeprefix("data-")


def test_each_data_environment_has_its_own_network() -> None:
    cidrs = {
        parameter_values(load_template("infra/data.yaml"), deploy_parameters(env))["VpcCidr"]
        for env in DATA_ENVIRONMENTS
    }
    assert len(cidrs) == len(DATA_ENVIRONMENTS)
