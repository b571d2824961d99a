"""A tenant's own settings, and the settings its flows run with.

A tenant stores only what it changes (the `tenants.settings` jsonb, written through the admin
API): every field left out, or null, is the deployment's value (`AUTHAPI_*`). The flows keep
reading one `Settings`: `effective_settings` is the deployment's with the tenant's values laid
over it, so no flow learns a second way to ask for a setting.

What a tenant may change, and where the deployment keeps the last word:
- `password_min_length`: never below the deployment's own minimum, nor below 8 (NIST SP
  800-63B's floor for a memorized secret); never above the deployment's maximum length.
- `mfa_required`: a tenant may require a second factor; it cannot lift a deployment's
  `AUTHAPI_MFA_REQUIRED`.
- `access_token_ttl_seconds` / `refresh_token_ttl_seconds`: within fixed bounds, and a refresh
  token never outlives the deployment's absolute session age.
- `public_app_url`: where links in the tenant's mail point; https outside development and test.
- `mail_from`: the From of the tenant's mail, only at an SES identity the deployment lists
  (`AUTHAPI_TENANT_MAIL_IDENTITIES`, the same list the mailer's IAM policy names).

CORS origins are not a tenant setting: API Gateway answers CORS for the whole API (issue 17).
"""

import re
from collections.abc import Mapping
from email.utils import formataddr, getaddresses, parseaddr
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.models.tenant import Tenant
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant
from authapi.tenants.directory import TenantRecord, find_tenant

# NIST SP 800-63B 3.1.1.2: a memorized secret is at least 8 characters
PASSWORD_FLOOR = 8
# the lowest maximum a deployment may set (AUTHAPI_PASSWORD_MAX_LENGTH is at least 128)
PASSWORD_MIN_CEILING = 128
ACCESS_TTL_MIN, ACCESS_TTL_MAX = 60, 24 * 3600
REFRESH_TTL_MIN, REFRESH_TTL_MAX = 300, 365 * 24 * 3600
# an address SES takes as a sender, without quoting or comments
PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
LOCAL_ENVIRONMENTS = frozenset({"development", "test"})


class TenantSettings(BaseModel):
    """What a tenant changes of the deployment's settings; None: the deployment's value.

    Checks that need the deployment (its floor, its mail identities, whether it is local) are
    `problems(settings)`; the field bounds here hold for every deployment.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    password_min_length: int | None = Field(
        default=None, ge=PASSWORD_FLOOR, le=PASSWORD_MIN_CEILING
    )
    mfa_required: bool | None = None
    access_token_ttl_seconds: int | None = Field(default=None, ge=ACCESS_TTL_MIN, le=ACCESS_TTL_MAX)
    refresh_token_ttl_seconds: int | None = Field(
        default=None, ge=REFRESH_TTL_MIN, le=REFRESH_TTL_MAX
    )
    public_app_url: str | None = Field(default=None, max_length=2000)
    mail_from: str | None = Field(default=None, max_length=320)

    @field_validator("public_app_url")
    @classmethod
    def an_origin_and_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials")
        if parts.query or parts.fragment:
            raise ValueError("must have no query or fragment (mail links add their own)")
        return value.rstrip("/")

    @field_validator("mail_from")
    @classmethod
    def one_plain_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            raise ValueError("must be one line")  # a header: no CR/LF, no injected headers
        found = getaddresses([value])
        if len(found) != 1 or not PLAIN_ADDRESS.match(found[0][1]):
            raise ValueError('must be one address, e.g. "Product <no-reply@example.com>"')
        name, address = found[0]
        return formataddr((name, address)) if name else address

    def problems(self, settings: Settings) -> list[tuple[str, str]]:
        """(field, why) for each value this deployment refuses, on top of the field bounds."""
        found: list[tuple[str, str]] = []
        maximum = settings.password_max_length
        if self.password_min_length is not None and self.password_min_length > maximum:
            found.append(
                ("password_min_length", f"must be at most the deployment's maximum, {maximum}")
            )
        if (
            self.refresh_token_ttl_seconds is not None
            and self.refresh_token_ttl_seconds > settings.session_max_age_seconds
        ):
            found.append(
                (
                    "refresh_token_ttl_seconds",
                    "must be at most the deployment's session age, "
                    f"{settings.session_max_age_seconds} s",
                )
            )
        if self.public_app_url is not None and not _scheme_allowed(settings, self.public_app_url):
            found.append(("public_app_url", "must be https"))
        if self.mail_from is not None and not sender_allowed(settings, self.mail_from):
            found.append(
                (
                    "mail_from",
                    "must be at an SES identity the deployment lists "
                    "(AUTHAPI_TENANT_MAIL_IDENTITIES)",
                )
            )
        return found

    def stored(self) -> dict[str, Any]:
        """What the `tenants.settings` row keeps: the fields set, nothing else."""
        return self.model_dump(exclude_none=True)


def _scheme_allowed(settings: Settings, url: str) -> bool:
    return settings.environment in LOCAL_ENVIRONMENTS or urlsplit(url).scheme == "https"


def sender_allowed(settings: Settings, sender: str) -> bool:
    """Whether SES lets the mailer send as `sender`: its address is an email identity the
    deployment lists, or its domain is a domain identity it lists (exactly: a subdomain is an
    identity of its own in SES's authorization, and the IAM policy names identities)."""
    address = parseaddr(sender)[1].lower()
    domain = address.rpartition("@")[2]
    identities = {identity.lower() for identity in settings.tenant_mail_identities}
    return address in identities or domain in identities


class TenantSettingsInvalid(ValueError):
    """Values a tenant may not have: (field, why) each, for the admin API's 422."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {why}" for field, why in problems))


def parse_tenant_settings(settings: Settings, values: Mapping[str, Any]) -> TenantSettings:
    """The tenant settings `values` give, checked against this deployment; raises
    TenantSettingsInvalid naming every refused field."""
    try:
        parsed = TenantSettings.model_validate(dict(values))
    except ValidationError as error:
        raise TenantSettingsInvalid(
            [
                (".".join(str(part) for part in issue["loc"]) or "settings", issue["msg"])
                for issue in error.errors(include_input=False, include_url=False)
            ]
        ) from None
    problems = parsed.problems(settings)
    if problems:
        raise TenantSettingsInvalid(problems)
    return parsed


def stored_tenant_settings(values: Mapping[str, Any]) -> TenantSettings:
    """A stored row's settings, read leniently: a field this release does not know (a newer
    release wrote it) or no longer accepts is left out, never a failed request."""
    known: dict[str, Any] = {}
    for name in TenantSettings.model_fields:
        if values.get(name) is None:
            continue
        try:
            TenantSettings.model_validate({name: values[name]})
        except ValidationError:
            continue
        known[name] = values[name]
    return TenantSettings.model_validate(known)


def overlay(settings: Settings, own: TenantSettings) -> Settings:
    """The deployment's settings with the tenant's laid over them, each kept within the
    deployment's bounds even when those changed after the tenant's were stored."""
    update: dict[str, Any] = {}
    if own.password_min_length is not None:
        update["password_min_length"] = min(
            max(own.password_min_length, settings.password_min_length, PASSWORD_FLOOR),
            settings.password_max_length,
        )
    if own.mfa_required:
        update["mfa_required"] = True  # a tenant may require MFA, never lift the deployment's
    if own.access_token_ttl_seconds is not None:
        update["access_token_ttl_seconds"] = own.access_token_ttl_seconds
    if own.refresh_token_ttl_seconds is not None:
        update["refresh_token_ttl_seconds"] = min(
            own.refresh_token_ttl_seconds, settings.session_max_age_seconds
        )
    if own.public_app_url is not None and _scheme_allowed(settings, own.public_app_url):
        update["public_app_url"] = own.public_app_url
    if own.mail_from is not None and sender_allowed(settings, own.mail_from):
        update["mail_from"] = own.mail_from
    if not update:
        return settings
    # model_copy does not validate: every value above is within the field's bounds already
    return settings.model_copy(update=update)


# tenant id -> (the deployment's settings, the record, the effective settings): the directory
# hands out the same record until its TTL ends, so a request costs a dictionary look-up
_effective: dict[str, tuple[Settings, TenantRecord, Settings]] = {}


def effective_settings(settings: Settings, record: TenantRecord) -> Settings:
    """The settings the tenant's flows run with (the deployment's, when it changed nothing)."""
    cached = _effective.get(record.id)
    if cached is not None and cached[0] is settings and cached[1] is record:
        return cached[2]
    result = (
        overlay(settings, stored_tenant_settings(record.settings)) if record.settings else settings
    )
    _effective[record.id] = (settings, record, result)
    return result


async def tenant_settings(
    database: Database, settings: Settings, tenant_id: str | None = None
) -> Settings:
    """The effective settings of `tenant_id` (default: the current tenant), through the
    directory's cache. The default tenant runs with the deployment's settings as they are: no
    query, and a single-tenant deployment behaves as before tenants existed."""
    tenant_id = current_tenant.get() if tenant_id is None else tenant_id
    if tenant_id == DEFAULT_TENANT:
        return settings
    record = await find_tenant(database, tenant_id)
    if record is None:
        # the path middleware refuses an unknown tenant before any flow runs; a job whose
        # tenant is gone sends as the deployment
        return settings
    return effective_settings(settings, record)


async def tenant_settings_in(db: AsyncSession, settings: Settings, tenant_id: str) -> Settings:
    """`tenant_settings` for a job holding a connection (the mailer's claim): read through its
    own session, never a second checkout (its pool holds one), one statement for a tenant's
    message and none for the default tenant's."""
    if tenant_id == DEFAULT_TENANT:
        return settings
    found = (
        await db.execute(
            select(Tenant.id, Tenant.name, Tenant.settings).where(Tenant.id == tenant_id)
        )
    ).one_or_none()
    if found is None:
        return settings
    record = TenantRecord(id=found.id, name=found.name, settings=dict(found.settings or {}))
    return overlay(settings, stored_tenant_settings(record.settings))
