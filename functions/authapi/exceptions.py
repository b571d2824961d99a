"""The error family. Services raise these; `exception_handlers` turns them into problem+json.

Each class carries its HTTP status, a stable snake_case `code` that clients may branch on, and a
short human title. None of them knows about FastAPI: endpoints and services stay transport-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus


class AuthApiError(Exception):
    """Base of every error the service means to show a client."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"
    default_detail: str = "The server could not complete the request."

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.detail)


class HttpStatusError(AuthApiError):
    """A status raised by the framework itself, with no domain meaning of its own."""

    def __init__(self, status: int):
        self.status = status
        self.code = f"http_{status}"
        self.title = HTTPStatus(status).phrase
        super().__init__(HTTPStatus(status).description or self.title)


class InvalidRequestError(AuthApiError):
    status = 400
    code = "invalid_request"
    title = "Invalid request"
    default_detail = "The request could not be understood."


class ClientAddressUnknownError(AuthApiError):
    """The front door gave no usable client address: per-client limits cannot be applied."""

    status = 400
    code = "client_address_unknown"
    title = "Client address unknown"
    default_detail = "The service could not tell which address this request came from."


class InvalidHostError(AuthApiError):
    status = 400
    code = "invalid_host"
    title = "Invalid host"
    default_detail = "This service does not answer for that Host header."


class CorsPreflightRefusedError(AuthApiError):
    status = 400
    code = "cors_preflight_refused"
    title = "CORS preflight refused"
    default_detail = "This origin, method or header is not allowed cross-origin."


class NotFoundError(AuthApiError):
    status = 404
    code = "not_found"
    title = "Not found"
    default_detail = "No resource lives at this path."


class TenantNotFoundError(NotFoundError):
    """`/t/<id>/...` of a tenant that does not exist or is disabled: one answer for both, so
    disabled tenants cannot be told from unknown ones."""

    code = "tenant_not_found"
    title = "Tenant not found"
    default_detail = "No tenant is served at this path."


class MethodNotAllowedError(AuthApiError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"
    default_detail = "This path does not accept that method."


class PayloadTooLargeError(AuthApiError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"
    default_detail = "The request body is larger than this service accepts."


class UnsupportedMediaTypeError(AuthApiError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"
    default_detail = "Send the request body as application/json."


class InputValidationError(AuthApiError):
    status = 422
    code = "validation_error"
    title = "Validation error"
    default_detail = "The request body or parameters are invalid."


class WeakPasswordError(AuthApiError):
    status = 422
    code = "weak_password"
    title = "Password too weak"


class EmailTakenError(AuthApiError):
    status = 409
    code = "email_taken"
    title = "Email already registered"
    default_detail = "An account with this email already exists."


class AuthenticationError(AuthApiError):
    """401s: every one of them tells the client how to authenticate."""

    status = 401
    code = "not_authenticated"
    title = "Not authenticated"
    default_detail = "A valid bearer access token is required."

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class InvalidAccessTokenError(AuthenticationError):
    code = "invalid_token"
    title = "Invalid access token"
    default_detail = "The access token is malformed, expired, revoked or not ours."

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class MfaEnrolmentRequiredError(InvalidAccessTokenError):
    """An enrol-only token (AUTHAPI_MFA_REQUIRED, an account without a factor yet): good for
    enrolling an authenticator and nothing else. A subclass of the invalid token, so whatever
    treats a token it cannot use as inactive (introspection, revocation) does so for this one."""

    status = 403
    code = "mfa_enrolment_required"
    title = "MFA enrolment required"
    default_detail = (
        "This service requires a second factor: this token only enrols one. POST "
        "/api/v1/auth/mfa/totp, then /api/v1/auth/mfa/totp/verify, and use the token it returns."
    )

    def __init__(self, detail: str | None = None):
        AuthApiError.__init__(
            self, detail, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
        )


class UnknownSigningKeyError(InvalidAccessTokenError):
    """Signed with a `kid` we do not know: forged, or a key rotated in since our last read."""


class InvalidCredentialsError(AuthenticationError):
    code = "invalid_credentials"
    title = "Invalid credentials"
    default_detail = "The email or password is incorrect."


class InvalidRefreshTokenError(AuthenticationError):
    code = "invalid_refresh_token"
    title = "Invalid refresh token"
    default_detail = "The refresh token is unknown, expired or revoked."


class RefreshTokenReusedError(AuthenticationError):
    code = "refresh_token_reused"
    title = "Refresh token reused"
    default_detail = "This refresh token was already used; the session has been revoked."


class InvalidAccountTokenError(AuthApiError):
    """A lifecycle token or code that cannot be spent; which of the reasons is not said."""

    status = 400
    code = "invalid_account_token"
    title = "Invalid or expired token"
    default_detail = (
        "The link or code is unknown, expired, already used, or was issued before the "
        "account's password or email changed. Ask for a new one."
    )


class WrongPasswordError(AuthApiError):
    """The signed-in caller's own password, given to confirm a change, is wrong (403, not 401:
    the bearer token is fine)."""

    status = 403
    code = "wrong_password"
    title = "Wrong password"
    default_detail = "The password given to confirm this change is not the account's."


class EmailNotVerifiedError(AuthApiError):
    status = 403
    code = "email_not_verified"
    title = "Email not verified"
    default_detail = "Confirm the account's email address first (see the message we sent)."


class SameEmailError(AuthApiError):
    status = 422
    code = "same_email"
    title = "Same email"
    default_detail = "The new email address is the account's current one."


class InvalidMfaChallengeError(AuthenticationError):
    code = "invalid_mfa_challenge"
    title = "Invalid MFA challenge"
    default_detail = (
        "The MFA challenge is unknown, expired, already used or out of attempts: sign in again."
    )


class InvalidMfaCodeError(AuthenticationError):
    code = "invalid_mfa_code"
    title = "Invalid MFA code"
    default_detail = "The authenticator code or recovery code is incorrect."


class StepUpRequiredError(AuthApiError):
    """The account has MFA and this session has not given a second factor recently enough."""

    status = 403
    code = "mfa_required"
    title = "Multi-factor authentication required"
    default_detail = (
        "This action needs a recent second factor: POST /api/v1/auth/mfa/step-up with a code "
        "or a recovery code, then retry with the access token it returns."
    )


class MfaAlreadyEnabledError(AuthApiError):
    status = 409
    code = "mfa_already_enabled"
    title = "MFA already enabled"
    default_detail = "The account already has an authenticator: disable it first."


class MfaNotEnrolledError(AuthApiError):
    status = 409
    code = "mfa_not_enrolled"
    title = "No authenticator"
    default_detail = "The account has no authenticator in this state: enrol one first."


class SessionNotFoundError(AuthApiError):
    """No live session of the caller's has this id: someone else's reads exactly like none."""

    status = 404
    code = "session_not_found"
    title = "Session not found"
    default_detail = "None of your live sessions has this id."


class AdminTokenRequiredError(AuthApiError):
    """A valid end-user access token at the admin API: a real token, but no admin credential."""

    status = 403
    code = "admin_token_required"
    title = "Admin token required"
    default_detail = (
        "The admin API takes admin tokens only: POST /api/v1/admin/token with your own access "
        "token and a code of your second factor, and call it with the token it returns."
    )


class AdminRoleRequiredError(AuthApiError):
    """The account behind the token is not (or no longer) an administrator."""

    status = 403
    code = "admin_role_required"
    title = "Admin role required"
    default_detail = "This account is not an administrator."


class UserNotFoundError(AuthApiError):
    status = 404
    code = "user_not_found"
    title = "User not found"
    default_detail = "No account has this id."


class InvalidCursorError(AuthApiError):
    status = 400
    code = "invalid_cursor"
    title = "Invalid cursor"
    default_detail = "The cursor is not one this listing returned: start again without it."


class OwnAccountError(AuthApiError):
    """An admin disabling, deleting or resetting the MFA of their own account through the API:
    refused, so the last administrator cannot lock every administrator out by mistake."""

    status = 409
    code = "admin_own_account"
    title = "Own account"
    default_detail = "An administrator cannot do this to their own account through the admin API."


class EmailAlreadyVerifiedError(AuthApiError):
    status = 409
    code = "email_already_verified"
    title = "Email already verified"
    default_detail = "The account's address is already verified: no mail was sent."


class AccountDisabledError(AuthApiError):
    """An admin action that a disabled account cannot take (a verification mail it would not
    be sent)."""

    status = 409
    code = "account_disabled"
    title = "Account disabled"
    default_detail = "The account is disabled: enable it first."


class CrossSiteRequestError(AuthApiError):
    """A form post from another site: what a page can make a visitor's browser send unasked."""

    status = 403
    code = "cross_site_request"
    title = "Cross-site request refused"
    default_detail = (
        "Form-encoded requests must come from this service's own origin or an allowed one; "
        "send JSON, or call from a server."
    )


class TooManyAttemptsError(AuthApiError):
    status = 429
    code = "too_many_attempts"
    title = "Too many attempts"
    default_detail = "Too many attempts. Try again later."

    def __init__(self, *, retry_after_seconds: int, detail: str | None = None):
        self.retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(detail, headers={"Retry-After": str(self.retry_after_seconds)})


class ServiceUnavailableError(AuthApiError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
    default_detail = "The service is temporarily unavailable. Try again shortly."

    def __init__(self, detail: str | None = None, *, retry_after_seconds: int = 5):
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class DatabaseUnavailableError(ServiceUnavailableError):
    code = "database_unavailable"
    title = "Database unavailable"
    default_detail = "The database cannot be reached. Try again shortly."


class SecretsUnavailableError(ServiceUnavailableError):
    code = "secrets_unavailable"
    title = "Configuration unavailable"
    default_detail = "The service cannot read its signing keys. Try again shortly."


class RefreshInProgressError(ServiceUnavailableError):
    """Another refresh of the same session held its rows past the lock timeout: nothing was
    spent or revoked, and retrying in a second gets the session's current token."""

    code = "refresh_in_progress"
    title = "Refresh in progress"
    default_detail = "Another refresh of this session is in progress. Retry in a second."

    def __init__(self) -> None:
        super().__init__(retry_after_seconds=1)


class OAuthError(AuthApiError):
    """An error of RFC 6749 section 5.2 that only the OAuth endpoints (/api/v1/oauth/*) raise:
    `error` is that section's code; `code` stays ours, more precise where it can be."""

    status = 400
    error = "invalid_request"


class InvalidClientError(OAuthError):
    """Unknown client, wrong secret, or a confidential client that did not authenticate. 401 with
    a Basic challenge when it authenticated through the Authorization header, else 400."""

    error = "invalid_client"
    code = "invalid_client"
    title = "Invalid client"
    default_detail = "Client authentication failed."

    def __init__(self, *, through_header: bool, detail: str | None = None):
        if through_header:
            self.status = 401
        headers = {"WWW-Authenticate": 'Basic realm="authapi"'} if through_header else None
        super().__init__(detail, headers=headers)


class InvalidGrantError(OAuthError):
    """The grant (a refresh token, the resource owner's credentials) is not valid for this
    client: unknown, spent, expired, revoked, or issued to another client."""

    error = "invalid_grant"
    code = "invalid_grant"
    title = "Invalid grant"
    default_detail = "The grant is invalid, expired, revoked, or was issued to another client."


class MfaRequiredError(InvalidGrantError):
    """The password was right, and the account needs a second factor the password grant cannot
    carry (an answer after a correct password the user can act on: CONVENTIONS.md)."""

    code = "mfa_required"
    title = "Multi-factor authentication required"
    default_detail = "mfa_required"


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"
    code = "unsupported_grant_type"
    title = "Unsupported grant type"
    default_detail = "This grant type is not supported here."


# -- tenants (issue 17: the admin API's /tenants routes)


class DefaultTenantAdminRequiredError(AuthApiError):
    """An administrator of another tenant at the tenant routes: only the default tenant's
    administrators (the deployment's operators) create, change or disable tenants."""

    status = 403
    code = "default_tenant_admin_required"
    title = "Default tenant's administrator required"
    default_detail = "Only administrators of the default tenant manage tenants."


class TenantExistsError(AuthApiError):
    status = 409
    code = "tenant_exists"
    title = "Tenant exists"
    default_detail = "A tenant with this id exists already (ids are never reused)."


class DefaultTenantFixedError(AuthApiError):
    """The default tenant is the deployment itself: never disabled, and its settings are the
    deployment's own (AUTHAPI_*), changed by a deploy rather than through the API."""

    status = 409
    code = "default_tenant_fixed"
    title = "Default tenant is fixed"
    default_detail = (
        "The default tenant cannot be disabled, and its settings are the deployment's own "
        "(AUTHAPI_* settings)."
    )


class InvalidTenantSettingsError(AuthApiError):
    """Tenant settings a deployment refuses; the problem's `errors` name each field."""

    status = 422
    code = "invalid_tenant_settings"
    title = "Invalid tenant settings"
    default_detail = "One or more tenant settings are not allowed."
