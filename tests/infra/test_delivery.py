"""The delivery pipeline (issue 16), read offline: the workflows' job graph and AWS access, the
pipeline stack's trust and scope, the edge stack's WAF and origin, the backup stack's copies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from authapi.signing.ssm import ORIGIN_VERIFY_PARAMETER
from tests.infra.cfn import ROOT, Template, function_properties, load_template, resources

pytestmark = pytest.mark.infra

WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_ROLES = {"dev": "DevDeployRole", "prod": "ProdDeployRole"}
REPOSITORY = "example-org/authapi"


def workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def needs(job: dict[str, Any]) -> set[str]:
    value = job.get("needs", [])
    return {value} if isinstance(value, str) else set(value)


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).startswith(action)]


def test_deploy_runs_test_build_dev_smoke_prod_in_that_order() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert set(jobs) == {"test", "build", "dev", "smoke", "prod"}
    assert needs(jobs["test"]) == set()
    assert needs(jobs["build"]) == {"test"}
    assert needs(jobs["dev"]) == {"build"}
    assert needs(jobs["smoke"]) == {"dev"}
    assert needs(jobs["prod"]) == {"smoke"}
    # the test job is the pull requests' own workflow, not a copy of it
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"


def test_only_pushes_to_main_deploy() -> None:
    # PyYAML reads the key `on` as True (YAML 1.1)
    triggers = workflow("deploy.yml")[True]
    # nothing else: a manual dispatch could deploy another branch through the environments
    assert triggers == {"push": {"branches": ["main"]}}


def test_prod_waits_for_the_prod_environment_and_deploys_the_build_artifact() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["prod"]["environment"] == "prod"
    assert jobs["dev"]["environment"] == "dev"
    uploaded = steps_using(jobs["build"], "actions/upload-artifact")[0]["with"]["name"]
    for environment in ("dev", "prod"):
        job = jobs[environment]
        assert steps_using(job, "actions/download-artifact")[0]["with"]["name"] == uploaded
        deploy = next(s["run"] for s in job["steps"] if "sam deploy" in s.get("run", ""))
        assert f"--config-env {environment}" in deploy
        assert "--template-file packaged.yaml" in deploy
        # nothing is built again after the build job
        assert not any("sam build" in s.get("run", "") for s in job["steps"])
    build_runs = " ".join(s.get("run", "") for s in jobs["build"]["steps"])
    assert "make build" in build_runs
    assert "sam package" in build_runs


def test_smoke_targets_the_url_the_dev_deploy_reports() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert "api-url" in jobs["dev"]["outputs"]
    smoke = " ".join(str(s) for s in jobs["smoke"]["steps"])
    assert "needs.dev.outputs.api-url" in smoke
    assert "make smoke-url" in smoke


def test_pull_requests_run_make_test() -> None:
    ci = workflow("ci.yml")
    assert "pull_request" in ci[True]
    assert "workflow_call" in ci[True]
    runs = [s.get("run") for s in ci["jobs"]["test"]["steps"]]
    assert "make test" in runs
    assert ci["permissions"] == {"contents": "read"}


def test_aws_access_is_oidc_only_with_least_permissions() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "aws-access-key-id" not in text, path.name
        assert "aws-secret-access-key" not in text, path.name
    deploy = workflow("deploy.yml")
    assert deploy["permissions"] == {}
    for name, job in deploy["jobs"].items():
        assumes = steps_using(job, "aws-actions/configure-aws-credentials")
        token = job.get("permissions", {}).get("id-token")
        # an OIDC token exactly for the jobs that assume the role
        assert (token == "write") == bool(assumes), name
        # the prod job alone assumes the prod role (the only one trusted for environment:prod)
        role = "AWS_PROD_DEPLOY_ROLE_ARN" if name == "prod" else "AWS_DEPLOY_ROLE_ARN"
        for step in assumes:
            assert step["with"]["role-to-assume"] == "${{ vars." + role + " }}", name


def test_actions_are_pinned_to_a_release() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for action in re.findall(r"uses:\s*([^\s#]+)", path.read_text()):
            if action.startswith("./"):
                continue
            version = action.split("@", 1)[1]
            assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", version), action


# ---- infra/pipeline.yaml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline() -> Template:
    return load_template("infra/pipeline.yaml")


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_oidc_provider_is_created_only_without_an_existing_one(pipeline: Template) -> None:
    assert pipeline["Parameters"]["ExistingOidcProviderArn"]["Default"] == ""
    assert pipeline["Conditions"]["CreateOidcProvider"] == {
        "Fn::Equals": [{"Ref": "ExistingOidcProviderArn"}, ""]
    }
    provider = pipeline["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    for role in DEPLOY_ROLES.values():
        trust = pipeline["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
        federated = trust["Statement"][0]["Principal"]["Federated"]
        assert federated == {
            "Fn::If": [
                "CreateOidcProvider",
                {"Ref": "GitHubOidcProvider"},
                {"Ref": "ExistingOidcProviderArn"},
            ]
        }


def subjects(pipeline: Template, role: str) -> list[str]:
    trust = pipeline["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    # StringEquals, not StringLike: no wildcard subject (pull requests, other branches)
    assert set(statement["Condition"]) == {"StringEquals"}
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    return [s["Fn::Sub"] for s in as_list(condition["token.actions.githubusercontent.com:sub"])]


def test_dev_role_trusts_the_deploy_branch_and_the_dev_environment_only(
    pipeline: Template,
) -> None:
    assert subjects(pipeline, "DevDeployRole") == [
        "repo:${GitHubRepository}:ref:refs/heads/${DeployBranch}",
        "repo:${GitHubRepository}:environment:dev",
    ]


def test_prod_role_trusts_only_the_prod_environment(pipeline: Template) -> None:
    # the approval is the prod environment's required reviewers: GitHub issues this subject only
    # to a job they released, so a token from the branch or dev cannot assume the prod role
    assert subjects(pipeline, "ProdDeployRole") == ["repo:${GitHubRepository}:environment:prod"]


def resource_texts(statement: dict[str, Any]) -> list[str]:
    texts = []
    for resource in as_list(statement["Resource"]):
        if isinstance(resource, dict) and "Fn::Sub" in resource:
            texts.append(resource["Fn::Sub"])
        else:
            texts.append(json.dumps(resource))
    return texts


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_deploy_role_reaches_its_own_stack_only(pipeline: Template, environment: str) -> None:
    other = {"dev": "prod", "prod": "dev"}[environment]
    role = pipeline["Resources"][DEPLOY_ROLES[environment]]
    by_sid = {s["Sid"]: s for s in statements(role)}
    assert resource_texts(by_sid["AppStacks"]) == [
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}"
        f":stack/${{StackPrefix}}-{environment}/*"
    ]
    assert resource_texts(by_sid["StackParameters"]) == [
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
        f":parameter/${{StackPrefix}}/{environment}/*"
    ]
    assert by_sid["StackParameters"]["Action"] == "ssm:GetParameters"
    assert resource_texts(by_sid["InvokeMigrations"]) == [
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
        f":function:CodeDeployHook_${{StackPrefix}}-{environment}-migrate"
    ]
    assert by_sid["InvokeMigrations"]["Action"] == "lambda:InvokeFunction"
    for statement in by_sid.values():
        for text in resource_texts(statement):
            assert f"-{other}" not in text, statement["Sid"]
            assert f"/{other}/" not in text, statement["Sid"]


def test_deploy_roles_pass_only_the_execution_role(pipeline: Template) -> None:
    for name in DEPLOY_ROLES.values():
        by_sid = {s["Sid"]: s for s in statements(pipeline["Resources"][name])}
        passing = [s for s in by_sid.values() if "iam:PassRole" in as_list(s["Action"])]
        assert passing == [by_sid["PassOnlyTheExecutionRole"]], name
        assert passing[0]["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
        # nothing but read-only calls on "*"
        for statement in by_sid.values():
            if statement["Resource"] == "*":
                assert all(
                    a.split(":")[1].startswith(("Validate", "List", "Describe", "Get"))
                    for a in as_list(statement["Action"])
                ), statement["Sid"]


def test_only_the_dev_role_writes_build_artifacts(pipeline: Template) -> None:
    def writes(name: str) -> list[str]:
        return [
            text
            for statement in statements(pipeline["Resources"][name])
            if any(a.startswith(("s3:Put", "s3:Delete")) for a in as_list(statement["Action"]))
            for text in resource_texts(statement)
        ]

    assert writes("DevDeployRole") == ["${ArtifactBucket.Arn}/*"]
    # sam deploy uploads the (over 51,200-byte) template itself as <md5>.template; the packaged
    # code the approved template names stays out of the prod role's reach
    assert writes("ProdDeployRole") == ["${ArtifactBucket.Arn}/*.template"]


def test_execution_role_passes_only_the_stacks_own_roles(pipeline: Template) -> None:
    role = pipeline["Resources"]["CloudFormationExecutionRole"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    (passing,) = [s for s in statements(role) if "iam:PassRole" in as_list(s["Action"])]
    assert [r["Fn::Sub"].rsplit(":", 1)[1] for r in passing["Resource"]] == [
        "role/${StackPrefix}-dev-*",
        "role/${StackPrefix}-prod-*",
    ]
    assert "iam:PassedToService" in passing["Condition"]["StringEquals"]
    for statement in statements(role):
        assert "*" not in as_list(statement["Action"])
        assert not any(a.endswith(":*") for a in as_list(statement["Action"]))


def test_execution_role_can_read_and_empty_the_roles_it_creates(pipeline: Template) -> None:
    # CloudFormation's IAM role handler lists a role's inline and attached policies to read it
    # and to delete it: without them a rolled-back create ends in ROLLBACK_FAILED
    role = pipeline["Resources"]["CloudFormationExecutionRole"]
    by_sid = {s["Sid"]: s for s in statements(role)}
    actions = set(as_list(by_sid["StackRoles"]["Action"]))
    assert {"iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:DeleteRole"} <= actions
    assert [r.rsplit(":", 1)[1] for r in resource_texts(by_sid["StackRoles"])] == [
        "role/${StackPrefix}-dev-*",
        "role/${StackPrefix}-prod-*",
    ]


def test_artifact_bucket_is_private_encrypted_versioned_and_tls_only(pipeline: Template) -> None:
    bucket = pipeline["Resources"]["ArtifactBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    (statement,) = pipeline["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_workflow_variables_are_the_pipeline_outputs(pipeline: Template) -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    used = set(re.findall(r"vars\.([A-Z_]+)", text))
    assert used == {
        "AWS_REGION",
        "AWS_DEPLOY_ROLE_ARN",
        "AWS_PROD_DEPLOY_ROLE_ARN",
        "AWS_CLOUDFORMATION_ROLE_ARN",
        "ARTIFACT_BUCKET",
    }
    described = " ".join(o.get("Description", "") for o in pipeline["Outputs"].values())
    for variable in used:
        assert f"Actions variable {variable}" in described


# ---- infra/edge.yaml -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge() -> Template:
    return load_template("infra/edge.yaml")


def test_edge_waf_is_for_cloudfront_with_managed_rules_and_rate_limits(edge: Template) -> None:
    acl = edge["Resources"]["WebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in rules.values()
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= managed
    paths = {}
    for name in ("sign-in-rate", "sign-up-rate"):
        rate = rules[name]["Statement"]["RateBasedStatement"]
        assert rate["AggregateKeyType"] == "IP"
        assert "Block" in rules[name]["Action"]
        scoped = rate["ScopeDownStatement"]["OrStatement"]["Statements"]
        paths[name] = {s["ByteMatchStatement"]["SearchString"] for s in scoped}
    assert "/login" in paths["sign-in-rate"]
    assert "/register" in paths["sign-up-rate"]
    assert edge["Rules"]["OnlyInUsEast1"]["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]
    }


def test_edge_origin_carries_the_secret_and_the_viewer_address(edge: Template) -> None:
    parameters = edge["Parameters"]
    assert parameters["OriginVerifySecret"]["NoEcho"] is True
    assert parameters["CertificateArn"]["AllowedPattern"].startswith("^arn:aws:acm:us-east-1:")
    config = edge["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginCustomHeaders"] == [
        {"HeaderName": "X-Origin-Verify", "HeaderValue": {"Ref": "OriginVerifySecret"}}
    ]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    headers = edge["Resources"]["ApiOriginRequestPolicy"]["Properties"][
        "OriginRequestPolicyConfig"
    ]["HeadersConfig"]
    assert "CloudFront-Viewer-Address" in headers["Headers"]
    assert config["WebACLId"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    assert config["Aliases"] == [{"Ref": "DomainName"}]
    redacted = edge["Resources"]["WafLogging"]["Properties"]["RedactedFields"]
    assert {"SingleHeader": {"Name": "authorization"}} in redacted
    assert {"SingleHeader": {"Name": "x-origin-verify"}} in redacted


def test_edge_docs_name_the_ssm_parameter_the_app_reads(edge: Template) -> None:
    # in AWS the app's copy of the origin secret is <prefix>edge/origin-verify, the prefix being
    # the template's AUTHAPI_SSM_PARAMETER_PREFIX; nothing writes it, so the docs must say where
    template = load_template("template.yaml")
    prefix = function_properties(template, "ApiFunction")["Environment"]["Variables"][
        "AUTHAPI_SSM_PARAMETER_PREFIX"
    ]["Fn::Sub"]
    name = (prefix + ORIGIN_VERIFY_PARAMETER).replace("${Env}", "<env>")
    doc = (ROOT / "docs" / "operations" / "edge.md").read_text()
    assert f"aws ssm put-parameter --region <app-region> --name {name}" in doc
    assert "--type SecureString" in doc
    assert "/authapi/<env>/kms/key-arn" in doc
    assert "AUTHAPI_ORIGIN_VERIFY_SECRET` (its template parameter)" not in doc
    assert name in edge["Parameters"]["OriginVerifySecret"]["Description"]
    # the regional target answering without WAF is stated, not denied
    assert "without WAF" in doc
    assert "cannot be bypassed" not in (ROOT / "infra" / "edge.yaml").read_text()


def test_documented_lambda_invokes_pass_their_payload_as_raw_json() -> None:
    # AWS CLI v2 decodes --payload as base64 by default and refuses '{}'
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    invokes = 0
    for document in documents:
        # a command continued with a backslash is one command
        text = document.read_text().replace("\\\n", " ")
        for command in re.findall(r"aws lambda invoke[^\n`]*", text):
            invokes += 1
            if "--payload" in command:
                assert "--cli-binary-format raw-in-base64-out" in command, document.name
    assert invokes


def dollars(cell: str) -> float:
    found = re.search(r"\$([\d,]+(?:\.\d+)?)", cell)
    assert found, cell
    return float(found.group(1).replace(",", ""))


def test_cost_idle_lambda_line_and_totals_add_up() -> None:
    doc = (ROOT / "docs" / "operations" / "cost.md").read_text()
    idle = doc.split("## One environment at idle", 1)[1].split("\n\n**", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in idle.splitlines()
        if line.startswith("| ") and not line.startswith(("| line", "|---"))
    ]
    by_line = {row[0]: row for row in rows}
    # one maintenance run a minute (the default schedule) at the Globals' memory, ~0.3 s each
    template = load_template("template.yaml")
    assert template["Parameters"]["MaintenanceSchedule"]["Default"] == "rate(1 minute)"
    gigabytes = template["Globals"]["Function"]["MemorySize"] / 1024
    runs = 730 * 60
    unit_price = re.search(r"\$([\d.]+) per GB-second", doc)
    assert unit_price
    price = float(unit_price.group(1))
    expected = runs * 0.3 * gigabytes * price + runs * 0.20 / 1_000_000
    assert dollars(by_line["Lambda"][1]) == pytest.approx(expected, abs=0.01)
    total = by_line.pop("**total**")
    for column in (1, 2):
        summed = sum(dollars(row[column]) for row in by_line.values())
        assert dollars(total[column]) == pytest.approx(summed, abs=1.0), column


# ---- infra/backup.yaml ---------------------------------------------------------------------


def test_backup_plan_copies_the_cluster_to_the_dr_region() -> None:
    backup = load_template("infra/backup.yaml")
    (plan,) = resources(backup, "AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    (copy,) = rule["CopyActions"]
    assert "${DrRegion}" in copy["DestinationBackupVaultArn"]["Fn::Sub"]
    (selection,) = resources(backup, "AWS::Backup::BackupSelection").values()
    (cluster,) = selection["Properties"]["BackupSelection"]["Resources"]
    data = load_template("infra/data.yaml")
    identifier = data["Resources"]["DbCluster"]["Properties"]["DBClusterIdentifier"]["Fn::Sub"]
    assert cluster["Fn::Sub"].endswith(f":cluster:{identifier}")
    for vault in resources(backup, "AWS::Backup::BackupVault").values():
        assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": ["VaultKey", "Arn"]}


def test_checkov_skips_each_say_why() -> None:
    text = (ROOT / ".checkov.yaml").read_text()
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"\s+- CKV", line):
            assert lines[index - 1].lstrip().startswith("#"), line


def test_make_test_runs_the_delivery_lints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (test_rule,) = re.findall(r"^test:([^#\n]*)", makefile, flags=re.M)
    assert "lint-delivery" in test_rule.split()
    assert "mk/delivery.mk" in makefile
    assert Path(ROOT / "mk" / "delivery.mk").exists()
