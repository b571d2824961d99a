"""Every kind of audit event, in one place: its name on the trail and on EventBridge.

Names are `<subject>.<what happened>`, past tense; they are a public contract (customers filter
EventBridge rules on them), so one is never renamed: a new meaning gets a new name. The
details each may carry are listed in the pages docs/audit-events.md links to.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ACCOUNT_REGISTERED = "account.registered"
    ACCOUNT_DELETED = "account.deleted"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_CHALLENGED = "login.challenged"  # a correct password of an MFA account
    LOGOUT = "logout"
    SESSION_REVOKED = "session.revoked"
    REFRESH_TOKEN_REUSED = "refresh_token.reused"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_RESET_REQUESTED = "password.reset_requested"
    PASSWORD_RESET = "password.reset"
    EMAIL_VERIFIED = "email.verified"
    EMAIL_CHANGE_REQUESTED = "email.change_requested"
    EMAIL_CHANGED = "email.changed"
    MFA_ENROLMENT_STARTED = "mfa.enrolment_started"
    MFA_ENABLED = "mfa.enabled"
    MFA_DISABLED = "mfa.disabled"
    MFA_CHALLENGE_FAILED = "mfa.challenge_failed"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated"
    MFA_STEP_UP = "mfa.step_up"
    ADMIN_TOKEN_ISSUED = "admin.token_issued"
    ADMIN_USER_DISABLED = "admin.user_disabled"
    ADMIN_USER_ENABLED = "admin.user_enabled"
    ADMIN_USER_LOGGED_OUT = "admin.user_logged_out"
    ADMIN_USER_DELETED = "admin.user_deleted"
    ADMIN_MFA_RESET = "admin.mfa_reset"
    ADMIN_VERIFICATION_RESENT = "admin.verification_resent"
    ADMIN_ROLE_GRANTED = "admin.role_granted"
    # an administrator's reads: which filters (names only, never values) and the page size
    ADMIN_USERS_LISTED = "admin.users_listed"
    ADMIN_USER_VIEWED = "admin.user_viewed"  # user_id: the account viewed
    ADMIN_EVENTS_READ = "admin.events_read"
    ADMIN_TENANTS_LISTED = "admin.tenants_listed"
    ADMIN_TENANT_VIEWED = "admin.tenant_viewed"  # details.tenant_id: the tenant viewed
    TENANT_CREATED = "tenant.created"
    TENANT_SETTINGS_CHANGED = "tenant.settings_changed"
    TENANT_DISABLED = "tenant.disabled"
    TENANT_ENABLED = "tenant.enabled"


class ActorKind(StrEnum):
    USER = "user"  # the account holder (or whoever holds their password or token)
    ADMIN = "admin"  # an administrator, named by actor_id
    SERVICE = "service"  # authapi itself: a reuse revocation, the maintenance run, a CLI
