"""The first deploy migrates too (issue 16 review): CloudFormation runs the CodeDeploy deployment,
and so the PreTraffic hook that migrates, only when the live alias is updated, not when the stack
is created. Both deploy jobs invoke the migrate function themselves after `sam deploy`, and fail
when it does; the README tells manual deployers the same."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra.cfn import ROOT, load_template
from tests.infra.test_delivery import workflow

pytestmark = pytest.mark.infra


def _migrate_function_name(env: str) -> str:
    properties = load_template("template.yaml")["Resources"]["MigrateFunction"]["Properties"]
    return str(properties["FunctionName"]["Fn::Sub"]).replace("${Env}", env)


def _index(steps: list[dict[str, Any]], pattern: str) -> int:
    (index,) = [i for i, step in enumerate(steps) if re.search(pattern, str(step.get("run", "")))]
    return index


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_deploy_job_migrates_after_sam_deploy_and_fails_when_the_migration_does(
    env: str,
) -> None:
    steps = workflow("deploy.yml")["jobs"][env]["steps"]
    name = _migrate_function_name(env)
    assert name == f"CodeDeployHook_authapi-{env}-migrate"
    deployed = _index(steps, rf"sam deploy --config-env {env}\b")
    migrated = _index(steps, r"aws lambda invoke")
    assert migrated > deployed
    script = steps[migrated]["run"]
    assert f"--function-name {name} " in script
    # an empty event: migrations only (a hook's event would report to CodeDeploy)
    assert "--cli-binary-format raw-in-base64-out --payload '{}'" in script
    # the function's own timeout (300 s) must fit the CLI's read timeout (default 60 s)
    (timeout,) = re.findall(r"--cli-read-timeout (\d+)", script)
    function_timeout = load_template("template.yaml")["Resources"]["MigrateFunction"]["Properties"][
        "Timeout"
    ]
    assert int(timeout) > function_timeout
    # `aws lambda invoke` exits 0 when the function fails: the step checks FunctionError
    assert "--query FunctionError --output text" in script
    assert re.search(r'if \[ "\$error" != "None" \]; then\s+echo [^\n]+\s+exit 1', script)
    assert '["status"] != "Succeeded"' in script
    # a read timeout must not invoke it a second time behind the first
    assert steps[migrated]["env"]["AWS_MAX_ATTEMPTS"] == "1"


def test_the_readme_has_manual_deployers_migrate_after_the_first_deploy() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploying to AWS", 1)[1]
    first_deploy = section.index(".venv-sam/bin/sam deploy --config-env dev")
    invoke = section.index(
        f"aws lambda invoke --function-name {_migrate_function_name('dev')}", first_deploy
    )
    assert "only when the live alias is updated" in section[first_deploy:invoke]
