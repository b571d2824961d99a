"""Business metrics. Code counts events here; where they go is decided by whoever runs the app.

The Lambda handler installs a Powertools Metrics (EMF) sink; elsewhere counts go nowhere, so a
laptop or a test run never accumulates or prints metric blobs.
"""

from __future__ import annotations

from collections.abc import Callable

USER_REGISTERED = "UserRegistered"
LOGIN_SUCCEEDED = "LoginSucceeded"
LOGIN_FAILED = "LoginFailed"
TOKEN_REFRESHED = "TokenRefreshed"
REFRESH_TOKEN_REUSED = "RefreshTokenReused"
# a spent token's immediate predecessor within the reuse interval: two tabs, a lost response
REFRESH_REPEATED = "RefreshRepeated"
# a 503 refresh_in_progress: a refresh waited past its lock timeout for a concurrent one
REFRESH_IN_PROGRESS = "RefreshInProgress"
LOGOUT = "Logout"
# OAuth: a token revoked through RFC 7009 (its session ended), a client refused authentication
TOKEN_REVOKED = "TokenRevoked"
OAUTH_CLIENT_REFUSED = "OAuthClientRefused"
TOO_MANY_ATTEMPTS = "TooManyAttempts"  # a 429: an IP over its rate limit, or a locked account
ACCOUNT_LOCKED = "AccountLocked"  # an (account, client) pair reached its failure limit
UNHANDLED_ERROR = "UnhandledError"
# a 503 database_unavailable: handled, so no Lambda error, and too rare for a 5xx rate to notice
DATABASE_UNAVAILABLE = "DatabaseUnavailable"
# a 400 client_address_unknown: the front door gave no usable address (a misconfiguration)
CLIENT_ADDRESS_MISSING = "ClientAddressMissing"

# Mail (issue 13): what the mailer did with a message, and the queue notify after a request
MAIL_SENT = "MailSent"
MAIL_FAILED = "MailFailed"  # given up: the provider refused it, or too many attempts
MAIL_RETRIED = "MailRetried"  # a transient failure: the message stays queued
MAIL_SKIPPED = "MailSkipped"  # nothing to send (no account for the submitted address)
MAIL_CIRCUIT_OPENED = "MailCircuitOpened"
MAIL_NOTIFY_FAILED = "MailNotifyFailed"  # the queue was down after a commit: re-queued later
MAIL_REQUEUED = "MailRequeued"
# the account lifecycle (issue 13)
EMAIL_VERIFIED = "EmailVerified"
PASSWORD_RESET_REQUESTED = "PasswordResetRequested"  # a forgot request (any address)
PASSWORD_RESET = "PasswordReset"
PASSWORD_CHANGED = "PasswordChanged"
EMAIL_CHANGE_REQUESTED = "EmailChangeRequested"
EMAIL_CHANGED = "EmailChanged"
ACCOUNT_DELETED = "AccountDeleted"
ACCOUNT_TOKEN_REFUSED = "AccountTokenRefused"  # a token or code that could not be spent
MAIL_THROTTLED = "MailThrottled"  # a request over the per-address mail limit
# the audit trail on EventBridge (issue 17): events put on the bus, entries it refused (tried
# again by the next runs), entries refused too often and dropped from the outbox (never
# published; their audit rows stay), and a run whose PutEvents call failed as a whole
AUDIT_EVENTS_PUBLISHED = "AuditEventsPublished"
AUDIT_EVENTS_REFUSED = "AuditEventsRefused"
AUDIT_EVENTS_ABANDONED = "AuditEventsAbandoned"
EVENT_BUS_UNREACHABLE = "EventBusUnreachable"

BUSINESS_METRICS = (
    USER_REGISTERED,
    LOGIN_SUCCEEDED,
    LOGIN_FAILED,
    TOKEN_REFRESHED,
    REFRESH_TOKEN_REUSED,
    REFRESH_REPEATED,
    REFRESH_IN_PROGRESS,
    LOGOUT,
    TOKEN_REVOKED,
    OAUTH_CLIENT_REFUSED,
    TOO_MANY_ATTEMPTS,
    ACCOUNT_LOCKED,
    UNHANDLED_ERROR,
    DATABASE_UNAVAILABLE,
    CLIENT_ADDRESS_MISSING,
    MAIL_SENT,
    MAIL_FAILED,
    MAIL_RETRIED,
    MAIL_SKIPPED,
    MAIL_CIRCUIT_OPENED,
    MAIL_NOTIFY_FAILED,
    MAIL_REQUEUED,
    EMAIL_VERIFIED,
    PASSWORD_RESET_REQUESTED,
    PASSWORD_RESET,
    PASSWORD_CHANGED,
    EMAIL_CHANGE_REQUESTED,
    EMAIL_CHANGED,
    ACCOUNT_DELETED,
    ACCOUNT_TOKEN_REFUSED,
    MAIL_THROTTLED,
    AUDIT_EVENTS_PUBLISHED,
    AUDIT_EVENTS_REFUSED,
    AUDIT_EVENTS_ABANDONED,
    EVENT_BUS_UNREACHABLE,
)

MetricSink = Callable[[str], None]

_sink: MetricSink | None = None


def count(name: str) -> None:
    """Add one to the named metric."""
    if _sink is not None:
        _sink(name)


def install_sink(sink: MetricSink | None) -> None:
    global _sink
    _sink = sink
