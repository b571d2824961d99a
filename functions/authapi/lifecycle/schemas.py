"""Request and response bodies of the lifecycle endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from authapi.auth.schemas import (
    PRINTABLE_PATTERN,
    LoginEmail,
    NewEmail,
    Password,
    _printable,
    _Request,
)

AccountToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="The token from the link's fragment (`#token=...`).",
        json_schema_extra={"pattern": PRINTABLE_PATTERN},
    ),
    AfterValidator(_printable),
]
Code = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The 6-digit code of the message.")]


class EmailRequest(_Request):
    email: LoginEmail


class VerifyWithToken(_Request):
    token: AccountToken


class VerifyWithCode(_Request):
    email: LoginEmail
    code: Code


# either the link's token, or the address and the code typed from the message
VerifyEmailRequest = VerifyWithToken | VerifyWithCode


class ResetPasswordRequest(_Request):
    token: AccountToken
    new_password: Password


class ChangePasswordRequest(_Request):
    current_password: Password
    new_password: Password


class ChangeEmailRequest(_Request):
    new_email: NewEmail
    password: Password


class TokenRequest(_Request):
    token: AccountToken


class PasswordRequest(_Request):
    password: Password


class AcceptedOut(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str = Field(
        default="If the address can receive this message, it is on its way.",
        description="The same for every address: whether it has an account is never said.",
    )
