"""Request and response bodies of the auth endpoints: the contract clients code against."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel

# Hard ceiling on any password field, far above the policy's maximum: past it a request is not a
# password attempt but an attempt to make the server hash megabytes.
PASSWORD_FIELD_MAX = 1024
EMAIL_MAX = 320
# What `_printable` refuses, stated in the OpenAPI contract. Lone surrogates need no mention:
# valid UTF-8 JSON cannot carry one, so only a hand-written escape gets that far.
PRINTABLE_PATTERN = r"^[^\u0000-\u001f\u007f]*$"


def _printable(value: str) -> str:
    """Refuse what PostgreSQL or a log line cannot carry: NUL, other controls, lone surrogates."""
    for char in value:
        code = ord(char)
        if code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            raise ValueError("must not contain control characters or unpaired surrogates")
    return value


def _validated_email(value: str) -> str:
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        # email_validator's reasons quote the address's own characters and labels: a message
        # that echoes input ends up in logs, screens and error trackers, so it names none
        raise ValueError("not a valid email address") from None
    # lower-case in full: one mailbox, one account, whatever case it is typed in
    return checked.normalized.lower()


def _normalize_login_email(value: str) -> str:
    # the normal form registration stored (Unicode NFC included), so an address logs in exactly
    # as it was typed at sign-up; one registration refuses matches no account and fails as usual
    try:
        return _validated_email(value)
    except ValueError:
        return value.strip().lower()


Password = Annotated[
    str,
    Field(
        min_length=1,
        max_length=PASSWORD_FIELD_MAX,
        json_schema_extra={"format": "password", "pattern": PRINTABLE_PATTERN},
    ),
    AfterValidator(_printable),
]
NewEmail = Annotated[
    str,
    Field(
        max_length=EMAIL_MAX,
        examples=["ada@example.com"],
        description="Special-use and reserved domains (.test, .invalid, .localhost) are refused.",
        # an email address has no control characters: the format says it, no pattern needed
        json_schema_extra={"format": "email"},
    ),
    AfterValidator(_printable),
    AfterValidator(_validated_email),
]
LoginEmail = Annotated[
    str,
    Field(
        min_length=3,
        max_length=EMAIL_MAX,
        examples=["ada@example.com"],
        json_schema_extra={"pattern": PRINTABLE_PATTERN},
    ),
    AfterValidator(_printable),
    AfterValidator(_normalize_login_email),
]


class _Request(BaseModel):
    # unknown fields are dropped, never assigned: `{"is_active": false}` in a body does nothing
    model_config = ConfigDict(extra="ignore")


class RegisterRequest(_Request):
    email: NewEmail
    password: Password = Field(examples=["correct horse battery staple"])


DeviceToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="The `device_token` an earlier sign-in on this device returned: it exempts "
        "the device from the account-wide slow-down others' failed logins can cause.",
        json_schema_extra={"pattern": PRINTABLE_PATTERN},
    ),
    AfterValidator(_printable),
]


class LoginRequest(_Request):
    email: LoginEmail
    password: Password = Field(examples=["correct horse battery staple"])
    device_token: DeviceToken | None = None


class RefreshRequest(_Request):
    refresh_token: Annotated[
        str,
        Field(min_length=1, max_length=256, json_schema_extra={"pattern": PRINTABLE_PATTERN}),
        AfterValidator(_printable),
    ]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    is_active: bool
    created_at: datetime
    email_verified: bool = Field(
        default=False, description="The address was confirmed (a link or code it was sent)."
    )


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class SignedInOut(TokenPairOut):
    user: UserOut
    device_token: str = Field(
        description="Keep it on this device and send it with later logins (`device_token`): "
        "it keeps this device signing in while others' failed attempts slow the account down."
    )


class RegisteredOut(BaseModel):
    """Registration when AUTHAPI_REQUIRE_VERIFIED_EMAIL is on: no tokens until it is verified."""

    user: UserOut
    verification_required: Literal[True] = True


class RegisterOut(RootModel[SignedInOut | RegisteredOut]):
    """What registration answers: signed in, or (verification required) the account alone."""


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="The sign-in or the latest refresh; null for sessions older than the field."
    )
    user_agent: str | None = Field(
        description="The User-Agent the sign-in sent (at most 256 characters; control "
        "characters replaced by U+FFFD); null when it sent none."
    )
    ip: str | None = Field(description="The client address the sign-in came from.")
    current: bool = Field(description="This is the session of the token that asked.")


class SessionsOut(BaseModel):
    sessions: list[SessionOut] = Field(description="The live sessions, newest first.")
