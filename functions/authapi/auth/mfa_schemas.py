"""Bodies of the MFA endpoints (issue 14)."""

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from authapi.auth.schemas import Password, UserOut, _Request

TotpCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["123456"])]
RecoveryCode = Annotated[
    str,
    Field(
        min_length=8, max_length=64, pattern=r"^[A-Za-z0-9 -]+$", examples=["abcd-efgh-ijkl-mnop"]
    ),
]
ChallengeToken = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class _OneFactor(_Request):
    # exactly one of the two, stated in the schema too (clients and the fuzzer read it there);
    # neither is nullable in the schema: leave the other one out
    model_config = ConfigDict(
        **_Request.model_config,
        json_schema_extra={"oneOf": [{"required": ["code"]}, {"required": ["recovery_code"]}]},
    )

    code: TotpCode | SkipJsonSchema[None] = Field(
        default=None, description="The authenticator app's code."
    )
    recovery_code: RecoveryCode | SkipJsonSchema[None] = Field(
        default=None, description="One unused recovery code (spent by this request)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give exactly one of `code` and `recovery_code`")
        return self


class EnrolRequest(_Request):
    password: Password = Field(description="The current password (a bearer token is not enough).")


class EnrolmentOut(BaseModel):
    secret: str = Field(description="Base32, to type into an authenticator app by hand.")
    otpauth_uri: str = Field(description="The `otpauth://totp/...` URI an app imports.")
    qr_svg: str = Field(description="The URI as a QR code: an SVG document.")


class VerifyRequest(_Request):
    code: TotpCode


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="10 single-use codes, shown this once: keep them somewhere safe."
    )


class VerifiedOut(RecoveryCodesOut):
    access_token: str = Field(
        description="A new access token of this session, with the code as its second factor "
        "(`amr` [pwd, otp], aal2); its refresh token goes on giving such tokens."
    )
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class ChallengeRequest(_OneFactor):
    challenge: ChallengeToken


class StepUpRequest(_OneFactor):
    pass


class RegenerateRequest(_OneFactor):
    pass


class DisableRequest(_OneFactor):
    password: Password


class MfaChallengeOut(BaseModel):
    """What login answers (202) for an account with MFA, instead of tokens."""

    mfa_required: bool = True
    challenge: str = Field(
        description="Send it to POST /api/v1/auth/mfa/challenge with a code; single use."
    )
    expires_in: int = Field(description="Seconds the challenge stays valid (5 minutes).")
    factors: list[str] = Field(default_factory=lambda: ["totp", "recovery_code"])


class AccessTokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MfaFactorOut(BaseModel):
    type: Literal["totp"] = "totp"
    created_at: datetime = Field(description="When it was activated (its first code).")
    last_used_at: datetime | None = Field(
        description="The time step of the last code it accepted, or the last recovery code "
        "spent, whichever is later; null if neither since activation."
    )


class MfaOut(BaseModel):
    enabled: bool = Field(description="The account has an active second factor.")
    factors: list[MfaFactorOut] = Field(description="Active factors only (at most one today).")
    recovery_codes_left: int = Field(description="Unused recovery codes (0 without MFA).")


class MeOut(UserOut):
    mfa: MfaOut
