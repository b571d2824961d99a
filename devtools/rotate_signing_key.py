"""`make rotate-signing-key ENV=dev|prod PHASE=publish|promote|retire`: one phase of rotating the
signing key and the data keys of one environment in SSM, never before its safe time
(`devtools/key_rotation.py` says what each phase does).

The waits come from what holds a key, read from template.yaml's API function (never copied):
- publish -> promote: every verifier must hold the new public key before it signs. Instances
  see it within AUTHAPI_SSM_CACHE_SECONDS; then a cached JWKS lives `JWKS_MAX_AGE_SECONDS`, and
  API Gateway's JWT authorizer "caches each issuer's signing keys for up to 1 hour on a
  best-effort basis" (Amazon API Gateway Developer Guide, "Signing keys and troubleshooting JWT
  authorizers", https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-jwt-authorizer-keys.html).
  It re-reads the key set for a key it has not seen, but other verifiers may not, and "best
  effort" is no bound: at least two hours whatever the sum.
- promote -> retire: an instance keeps signing with the old key until its cache expires, or, if
  SSM cannot be read, for up to AUTHAPI_SSM_MAX_STALE_SECONDS; its last token then lives the
  access-token lifetime (plus the verifiers' clock-skew leeway).
Needs AWS credentials for the environment's account and region, like the bootstrap scripts.

After the phase (and with PHASE=replicate, instead of one) the environment's key parameters are
copied to its DR region (the data stack's DrRegion, or DR_REGION=), encrypted with the replica of
the multi-Region key there (`devtools/key_replication.py`). A copy that fails leaves the primary
region rotated and consistent and the DR region behind: the command says so and exits 2, and
running the same phase again (done already, so it only copies) or PHASE=replicate catches up.

TENANT=<id> rotates that tenant's signing key (`<prefix>tenants/<id>/`) instead, with the same
phases and waits; the data keys stay as they are (they are the deployment's).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authapi.auth.jwks import JWKS_MAX_AGE_SECONDS
from authapi.auth.tokens import CLOCK_SKEW_SECONDS
from authapi.clock import SystemClock
from authapi.config import Settings
from authapi.signing.ssm import tenant_parameter_prefix
from authapi.tenant_scope import DEFAULT_TENANT
from devtools.key_replication import dr_region, replicate
from devtools.key_rotation import Rotation, RotationRefused, Waits
from devtools.template_env import TemplateValueError, load_template, template_variables
from devtools.tenants import TenantRefused, check_tenant_id

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

API_GATEWAY_JWKS_CACHE_SECONDS = 3600  # the guide's "up to 1 hour", cited above
PUBLISH_MINIMUM_SECONDS = 2 * 3600
ENVIRONMENTS = ("dev", "prod")
PHASES = ("publish", "promote", "retire", "replicate")
DR_FAILED = 2  # the exit status when the primary is done and the DR copy is not


def waits(
    *,
    access_token_ttl_seconds: int,
    ssm_cache_seconds: int,
    ssm_max_stale_seconds: int,
    verifier_cache_seconds: int = max(JWKS_MAX_AGE_SECONDS, API_GATEWAY_JWKS_CACHE_SECONDS),
    publish_minimum_seconds: int = PUBLISH_MINIMUM_SECONDS,
) -> Waits:
    """The waits between phases for these settings (tests scale the verifiers' side down)."""
    publish = max(publish_minimum_seconds, ssm_cache_seconds + verifier_cache_seconds)
    signing_with_old_key = max(ssm_cache_seconds, ssm_max_stale_seconds)
    retire = signing_with_old_key + access_token_ttl_seconds + CLOCK_SKEW_SECONDS
    return Waits(timedelta(seconds=publish), timedelta(seconds=retire))


def template_waits() -> Waits:
    """The waits for the API function as template.yaml configures it (Settings' defaults for
    what it leaves out)."""
    variables = template_variables("ApiFunction", load_template())

    def setting(name: str) -> int:
        value: Any = variables.get(f"AUTHAPI_{name.upper()}")
        if value is None:
            default = Settings.model_fields[name].default
            assert isinstance(default, int)
            return default
        if not isinstance(value, int | str):
            raise TemplateValueError(f"AUTHAPI_{name.upper()} must be a plain number here")
        return int(value)

    return waits(
        access_token_ttl_seconds=setting("access_token_ttl_seconds"),
        ssm_cache_seconds=setting("ssm_cache_seconds"),
        ssm_max_stale_seconds=setting("ssm_max_stale_seconds"),
    )


def run_phase(rotation: Rotation, phase: str) -> int:
    """Print what the phase did (or why nothing was needed); 1 when it refused."""
    try:
        message = {
            "publish": rotation.publish,
            "promote": rotation.promote,
            "retire": rotation.retire,
        }[phase]()
    except RotationRefused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    print(message)
    return 0


def replicate_to_dr(
    primary: SSMClient,
    *,
    environment: str,
    phase: str,
    region_override: str | None,
    dr_client: SSMClient | None = None,
    tenant: str = DEFAULT_TENANT,
) -> int:
    """Copy the keys to the DR region; 0 when it holds them (or none is set), DR_FAILED loudly."""
    prefix = f"/authapi/{environment}/"
    keys_prefix = tenant_parameter_prefix(prefix, tenant)
    region: str | None = region_override or "the DR region"
    try:
        region = dr_region(primary, prefix=prefix, override=region_override)
        if region is None:
            print(
                f"no DR region for {environment} (the data stack's DrRegion is empty, no "
                "DR_REGION=): the keys are in the primary region only",
                file=sys.stderr,
            )
            return 0
        if dr_client is None:
            import boto3

            dr_client = boto3.client("ssm", region_name=region)
        print(replicate(primary, dr_client, prefix=prefix, keys_prefix=keys_prefix).summary())
    # ReplicationError, or any of botocore's (ClientError, BotoCoreError: no common base
    # but Exception): whatever stopped the copy is reported the same way
    except Exception as error:
        again_tenant = "" if tenant == DEFAULT_TENANT else f" TENANT={tenant}"
        done = "nothing rotated" if phase == "replicate" else f"{phase} is done"
        print(
            f"DR COPY FAILED: {done} in {primary.meta.region_name}, but {region} does not hold "
            f"all of {keys_prefix}'s keys ({type(error).__name__}: {error}).\n"
            "The primary region is consistent and serves as before; the DR region is behind "
            "(a restore there would miss this phase). Fix the cause, then run "
            f"`make rotate-signing-key ENV={environment} PHASE={phase}{again_tenant}` again "
            "(a phase already done only copies) before the next phase.",
            file=sys.stderr,
        )
        return DR_FAILED
    return 0


def main(
    argv: list[str] | None = None,
    *,
    ssm: SSMClient | None = None,
    dr_ssm: SSMClient | None = None,
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", choices=ENVIRONMENTS)
    parser.add_argument("phase", choices=PHASES)
    parser.add_argument("--dr-region", default=None, help="instead of the data stack's DrRegion")
    parser.add_argument("--tenant", default=DEFAULT_TENANT, help="a tenant's key instead")
    args = parser.parse_args(argv)
    if args.tenant != DEFAULT_TENANT:
        try:
            check_tenant_id(args.tenant)
        except TenantRefused as refusal:
            print(f"refused: {refusal}", file=sys.stderr)
            return 1
    if ssm is None:
        import boto3

        ssm = boto3.client("ssm")
    if args.phase != "replicate":
        rotation = Rotation(
            ssm,
            prefix=f"/authapi/{args.environment}/",
            waits=template_waits(),
            clock=SystemClock(),
            tenant=args.tenant,
        )
        status = run_phase(rotation, args.phase)
        if status != 0:
            return status
    return replicate_to_dr(
        ssm,
        environment=args.environment,
        phase=args.phase,
        region_override=args.dr_region,
        dr_client=dr_ssm,
        tenant=args.tenant,
    )


if __name__ == "__main__":
    sys.exit(main())
