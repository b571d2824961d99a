"""Settings: one validated class, read from `AUTHAPI_*` environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from authapi.key_material import parse_data_keys, signing_key_problem

Environment = Literal["development", "test", "production"]
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every knob of the service. Production refuses unsafe values at startup."""

    # hide_input_in_errors: a refused setting must not print the secret it was given
    model_config = SettingsConfigDict(
        env_prefix="AUTHAPI_",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        populate_by_name=True,
    )

    environment: Environment = "development"

    # Database. A URL with a password is a secret: it never reaches a log line or an error body.
    database_url: SecretStr | None = None
    db_pool_mode: Literal["queue", "null"] = "queue"
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    db_pool_recycle_seconds: int = Field(default=1800, ge=1)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_command_timeout_seconds: float = Field(default=10.0, gt=0)
    # "iam": a fresh RDS IAM token per new connection instead of a password (RDS Proxy)
    db_auth: Literal["password", "iam"] = "password"
    db_require_tls: bool = False
    # The CA bundle TLS verifies the server against; unset: the system trust store, which holds
    # RDS Proxy's public ACM certificate. Aurora itself (infra/data.yaml CostProfile=economy, no
    # proxy) presents the RDS CA's: give AWS's bundle (template.yaml, DbTlsCaFile).
    db_tls_ca_file: Path | None = None
    # The database roles the first migration creates: `<prefix>_app` (reads and writes rows) and
    # `<prefix>_migrator` (owns the schema). One prefix per deployment or test database, since
    # roles belong to the whole server.
    db_role_prefix: str = Field(default="authapi", pattern=r"^[a-z][a-z0-9_]{0,40}$")
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("AUTHAPI_AWS_REGION", "AWS_REGION")
    )

    # Secrets from SSM Parameter Store (in Lambda): `<prefix>jwt/signing-key` and friends.
    ssm_parameter_prefix: str | None = None
    ssm_cache_seconds: int = Field(default=300, ge=1)
    # when SSM cannot be reached, keep signing with the last key read for at most this long
    ssm_max_stale_seconds: int = Field(default=3600, ge=0)

    # Tokens.
    jwt_private_key: SecretStr | None = None
    jwt_private_key_file: Path = Path(".local/dev-signing-key.pem")
    # The data keys behind every HMAC (email hashes in limits and logs): "id:base64url,..."
    # newest first, at least 32 bytes each. In Lambda they come from SSM with the signing key.
    data_keys: SecretStr | None = None
    data_keys_file: Path = Path(".local/data-keys")
    # PEM bundle of retired public keys: tokens they signed verify until they expire
    jwt_retired_public_keys: str | None = None
    jwt_issuer: str = "authapi"
    jwt_audience: str = "authapi"
    # The client of the JSON API (register, login, refresh-token): the `client_id` its sessions
    # and access tokens carry. A public client of the OAuth token endpoint too, unless the
    # registry lists it itself. The OAuth endpoints name the client that asked.
    default_client_id: str = Field(default="default", pattern=r"^[A-Za-z0-9._~-]{1,64}$")

    # OAuth 2.0 (/api/v1/oauth/*). The client registry (signing/clients.py): JSON, in Lambda the
    # SSM parameter <prefix>oauth/clients, read with the keys; in development a git-ignored file.
    oauth_clients: str | None = None
    oauth_clients_file: Path = Path(".local/oauth-clients.json")
    # RFC 6749 section 4.3's password grant: off unless a first-party app needs it (RFC 9700
    # says it must not be used). Off in production, the login form is refused too.
    oauth_password_grant: bool = False
    access_token_ttl_seconds: int = Field(default=30 * 60, ge=60)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=300)
    # Admin tokens (issue 17: `aud` <jwt_audience>:admin, after MFA, no refresh token): at most
    # 15 minutes, whatever is configured
    admin_token_ttl_seconds: int = Field(default=15 * 60, ge=60, le=15 * 60)
    # absolute: rotating refresh tokens never keeps one login alive longer than this
    session_max_age_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    # A refresh token's immediate predecessor, presented within this many seconds after it was
    # exchanged, gets the same current token again (two tabs, a lost response); 0: strict, any
    # spent token is reuse and ends the session.
    refresh_reuse_interval_seconds: int = Field(default=10, ge=0, le=300)
    # How long, in all, a refresh waits for a concurrent one holding its rows before answering
    # 503 refresh_in_progress (NOWAIT tries, db/lock_timeout.py: a per-statement lock_timeout
    # would need SET or set_config, which pin RDS Proxy sessions)
    refresh_lock_timeout_ms: int = Field(default=1000, ge=1, le=60_000)

    # Passwords: argon2id with OWASP's minimum parameters unless told otherwise.
    argon2_memory_cost_kib: int = Field(default=19456, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    password_min_length: int = Field(default=8, ge=1)
    password_max_length: int = Field(default=256, ge=128)

    # Brute force. Per account (keyed by email, registered or not): after this many failed
    # logins within the window, attempts get 429 for a delay that doubles up to the cap.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=15 * 60, ge=1)
    login_lockout_base_seconds: int = Field(default=30, ge=1)
    login_lockout_max_seconds: int = Field(default=15 * 60, ge=1)
    # Per account, from any address (an attack spread over many): past this many failures in the
    # window, one password check per interval at most; device tokens are exempt.
    login_account_max_failures: int = Field(default=20, ge=1)
    login_account_check_interval_seconds: int = Field(default=10, ge=1)
    # MFA (issue 14): the name authenticator apps show, the TOTP steps of drift accepted either
    # side, how recent a second factor must be for step-up, how long a login's MFA challenge
    # lives, and whether every account must enrol before it gets ordinary tokens.
    mfa_issuer: str = Field(default="authapi", min_length=1, max_length=80)
    mfa_totp_drift_steps: int = Field(default=1, ge=0, le=1)
    mfa_step_up_seconds: int = Field(default=10 * 60, ge=60)
    mfa_challenge_seconds: int = Field(default=5 * 60, ge=30, le=15 * 60)
    mfa_required: bool = False
    # A device token (returned at login) exempts its device from the account-wide slow-down.
    device_token_ttl_days: int = Field(default=90, ge=1)
    # Per client IP (API Gateway's source IP, or the socket peer; never X-Forwarded-For):
    # requests allowed per action in each fixed window.
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    rate_limit_login: int = Field(default=30, ge=1)
    rate_limit_register: int = Field(default=10, ge=1)
    rate_limit_refresh: int = Field(default=60, ge=1)
    # the OAuth revocation and introspection endpoints (a resource server introspects often)
    rate_limit_revoke: int = Field(default=60, ge=1)
    rate_limit_introspect: int = Field(default=600, ge=1)
    # Retention: the maintenance run deletes a session, with its refresh tokens, this many days
    # after it expired or was revoked (rate-limit and throttle rows go on their own horizons).
    retention_days: int = Field(default=30, ge=1)

    # The audit trail (issue 17; docs/audit-events.md). Its rows go this many days after they
    # were recorded (the maintenance run, as the maintenance role: the app's may not delete).
    audit_retention_days: int = Field(default=90, ge=1)
    # Where the maintenance run publishes audit events (EventBridge PutEvents, from the event
    # outbox); unset: publishing is off, and the outbox rows wait until the retention takes them.
    event_bus_name: str | None = Field(default=None, max_length=1600)
    # the events' `source` on EventBridge ("aws." is AWS's own); what customers' rules match on
    event_source: str = Field(default="authapi", pattern=r"^[A-Za-z0-9._/-]{1,256}$")
    # per HTTPS call (connect, then read): ten calls share a transaction whose role ends it when
    # idle for 10 s, so a slow bus must fail fast (the rows wait for the next run)
    event_publish_timeout_seconds: float = Field(default=2.0, gt=0)

    # HTTP. The browser origins allowed to call the API: API Gateway answers CORS in AWS (the
    # template fills both from one parameter); the app answers it where it is served itself.
    allowed_origins: CommaList = Field(default_factory=list)
    trusted_hosts: CommaList = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    # Mail (issue 13; README "Mail delivery"). The outbox is always written; with no queue URL
    # (tests, `make dev`) nothing is notified and the maintenance run's re-queue is what sends.
    mail_queue_url: str | None = None
    mail_from: str = "authapi <no-reply@authapi.invalid>"
    mail_product_name: str = Field(default="authapi", min_length=1, max_length=80)
    # where links in mail point (the web app, not the API); its paths come with the flows
    public_app_url: str = "http://127.0.0.1:8000"
    mail_configuration_set: str | None = None
    # the SES identities (domains, or single addresses; names or ARNs) a tenant's own mail
    # sender may be at (authapi.tenants.settings); the mailer's IAM policy lists the same ones
    # (template.yaml, TenantMailIdentityArns). Empty: every tenant sends as AUTHAPI_MAIL_FROM.
    tenant_mail_identities: CommaList = Field(default_factory=list)
    # how long one mailer holds a message it is sending: a second copy of it waits that long
    mail_lease_seconds: int = Field(default=60, ge=5)
    # a pending row nobody has sent or re-queued for this long is handed to the queue again
    mail_requeue_after_seconds: int = Field(default=120, ge=10)
    # rows of any status go this long after they were written (they hold a sealed address)
    mail_retention_days: int = Field(default=7, ge=1)
    # the circuit breaker: this many transient provider failures in a row stop every mailer
    # from calling it for `mail_circuit_open_seconds`; messages stay queued meanwhile
    mail_circuit_failures: int = Field(default=5, ge=1)
    mail_circuit_open_seconds: int = Field(default=60, ge=1)
    mail_send_timeout_seconds: float = Field(default=5.0, gt=0)
    # How the mailer reaches SES: its v2 API (SendEmail, Content.Raw; locally moto), or its
    # SMTP interface (in AWS: the VPC has no NAT, and only SMTP has a VPC endpoint), with the
    # credentials `<access key id>:<SMTP password>` in an SSM SecureString.
    mail_transport: Literal["ses-api", "ses-smtp"] = "ses-api"
    mail_smtp_host: str | None = None
    mail_smtp_port: int = Field(default=587, ge=1, le=65535)
    mail_smtp_credentials_parameter: str | None = None

    # Account lifecycle (issue 13; README "Account lifecycle"). Links in mail are
    # `public_app_url` + a path + `#token=...`: the web app's pages that POST the token.
    email_verification_path: str = "/verify-email"
    password_reset_path: str = "/reset-password"
    email_change_path: str = "/confirm-email-change"
    email_verification_ttl_seconds: int = Field(default=24 * 3600, ge=300)
    password_reset_ttl_seconds: int = Field(default=30 * 60, ge=300)
    email_change_ttl_seconds: int = Field(default=24 * 3600, ge=300)
    # when on: registration signs nobody in, and an unverified account can neither log in
    # (403 email_not_verified, after a correct password) nor refresh a session it holds
    require_verified_email: bool = False
    # mail to one submitted address (registered or not): at most one per interval and this
    # many per hour, whichever flow asks (forgot, resend, email change)
    mail_address_interval_seconds: int = Field(default=60, ge=1)
    mail_address_per_hour: int = Field(default=5, ge=1)
    # per client IP, per rate-limit window: requests that send mail; attempts at a token/code
    rate_limit_mail: int = Field(default=10, ge=1)
    rate_limit_account_token: int = Field(default=30, ge=1)
    # per client IP, per window: requests that check the caller's password (change, delete)
    rate_limit_password_check: int = Field(default=10, ge=1)

    # Behind CloudFront (the edge template): the secret X-Origin-Verify value the edge sends.
    # Only a request carrying it may name its viewer (CloudFront-Viewer-Address); in Lambda it
    # comes from SSM (<prefix>edge/origin-verify) with the keys. Unset: no edge is trusted.
    origin_verify_secret: SecretStr | None = None

    # Logging.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] | None = None

    @field_validator("allowed_origins", "trusted_hosts", "tenant_mail_identities", mode="before")
    @classmethod
    def split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "mail_queue_url",
        "mail_configuration_set",
        "mail_smtp_host",
        "mail_smtp_credentials_parameter",
        "db_tls_ca_file",
        "event_bus_name",
        mode="before",
    )
    @classmethod
    def empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tenant_mail_identities")
    @classmethod
    def identity_names(cls, value: list[str]) -> list[str]:
        # the template passes the identities' ARNs, which its IAM policy lists: the name is the
        # part after `identity/`
        return [item.rpartition(":identity/")[2] or item for item in value]

    @field_validator("event_source")
    @classmethod
    def not_aws_own_source(cls, value: str) -> str:
        if value.startswith("aws."):
            raise ValueError("AUTHAPI_EVENT_SOURCE may not start with 'aws.' (AWS's own sources)")
        return value

    @field_validator("database_url")
    @classmethod
    def use_psycopg_driver(cls, value: SecretStr | None) -> SecretStr | None:
        """Any PostgreSQL URL, driven by psycopg 3. `postgresql+asyncpg://` (the driver before
        it) is still accepted, so existing environments keep working unchanged."""
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value().strip()
        for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
            if url.startswith(prefix):
                return SecretStr("postgresql+psycopg://" + url.removeprefix(prefix))
        if not url.startswith("postgresql+psycopg://"):
            raise ValueError("AUTHAPI_DATABASE_URL must be a postgresql:// URL")
        return SecretStr(url)

    @model_validator(mode="after")
    def session_outlives_its_tokens(self) -> Self:
        if self.session_max_age_seconds < self.refresh_token_ttl_seconds:
            raise ValueError(
                "AUTHAPI_SESSION_MAX_AGE_SECONDS must be at least AUTHAPI_REFRESH_TOKEN_TTL_SECONDS"
            )
        return self

    @field_validator("ssm_parameter_prefix")
    @classmethod
    def prefix_is_a_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("/"):
            raise ValueError(
                "AUTHAPI_SSM_PARAMETER_PREFIX must start with '/', e.g. /authapi/prod/"
            )
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def iam_needs_tls_and_region(self) -> Self:
        if self.db_auth == "iam":
            if not self.db_require_tls:
                raise ValueError("AUTHAPI_DB_AUTH=iam requires AUTHAPI_DB_REQUIRE_TLS=true")
            if not self.aws_region:
                raise ValueError("AUTHAPI_DB_AUTH=iam requires AWS_REGION (or AUTHAPI_AWS_REGION)")
        return self

    @model_validator(mode="after")
    def refuse_unsafe_production(self) -> Self:
        if self.environment != "production":
            return self
        problems = []
        if self.database_url is None:
            problems.append("AUTHAPI_DATABASE_URL is required in production")
        if "*" in self.allowed_origins:
            problems.append("AUTHAPI_ALLOWED_ORIGINS must list origins, not '*', in production")
        if not self.trusted_hosts or "*" in self.trusted_hosts:
            problems.append("AUTHAPI_TRUSTED_HOSTS must list the API's host names in production")
        if self.ssm_parameter_prefix is None and self.data_keys is None:
            problems.append(
                "AUTHAPI_DATA_KEYS or AUTHAPI_SSM_PARAMETER_PREFIX is required in production"
            )
        if self.data_keys is not None:
            try:
                parse_data_keys(self.data_keys.get_secret_value())
            except ValueError as error:
                problems.append(f"AUTHAPI_DATA_KEYS is unusable: {error}")
        if self.jwt_private_key is None:
            if self.ssm_parameter_prefix is None:
                problems.append(
                    "AUTHAPI_JWT_PRIVATE_KEY (an RSA private key, PEM) or "
                    "AUTHAPI_SSM_PARAMETER_PREFIX is required in production"
                )
        else:
            problem = signing_key_problem(self.jwt_private_key.get_secret_value())
            if problem:
                problems.append(f"AUTHAPI_JWT_PRIVATE_KEY is unusable: {problem}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "console" if self.environment == "development" else "json"

    @property
    def docs_enabled(self) -> bool:
        return self.environment != "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
