"""ORM models, one file per table. Importing this package registers them all on `Base.metadata`."""

from authapi.models.account_token import AccountToken
from authapi.models.audit_event import AuditEvent
from authapi.models.auth_session import AuthSession
from authapi.models.device_token import DeviceToken
from authapi.models.event_outbox import EventOutbox
from authapi.models.login_throttle import LoginThrottle
from authapi.models.mail_circuit import MailCircuit
from authapi.models.mail_outbox import MailOutbox
from authapi.models.mfa import MfaChallenge, MfaFactor, MfaRecoveryCode
from authapi.models.rate_limit_bucket import RateLimitBucket
from authapi.models.refresh_token import RefreshToken
from authapi.models.tenant import Tenant
from authapi.models.user import User

__all__ = [
    "AccountToken",
    "AuditEvent",
    "AuthSession",
    "DeviceToken",
    "EventOutbox",
    "LoginThrottle",
    "MailCircuit",
    "MailOutbox",
    "MfaChallenge",
    "MfaFactor",
    "MfaRecoveryCode",
    "RateLimitBucket",
    "RefreshToken",
    "Tenant",
    "User",
]
