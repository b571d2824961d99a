"""The form-encoded bodies of the OAuth endpoints (RFC 6749 section 3.2, RFC 7009, RFC 7662).

Form posts are what any web page can make its visitors' browsers send without a CORS preflight,
so the login form's cross-site rule applies here too (auth/login_form.py).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from authapi.auth.login_form import refuse_cross_site_form
from authapi.exceptions import InvalidRequestError, UnsupportedMediaTypeError
from authapi.request_body import FORM_MEDIA_TYPE, media_type
from authapi.resources import SettingsDep

OAuthForm = dict[str, str]
# the parameters any of the endpoints reads; others are ignored (RFC 6749 section 3.1)
PARAMETERS = frozenset(
    {
        "grant_type",
        "refresh_token",
        "username",
        "password",
        "scope",
        "client_id",
        "client_secret",
        "token",
        "token_type_hint",
    }
)


async def read_oauth_form(request: Request, settings: SettingsDep) -> OAuthForm:
    """Dependency: the body's parameters; each at most once (RFC 6749 section 3.2), an empty
    one as if absent, an unknown one ignored (section 3.1)."""
    if media_type(request) != FORM_MEDIA_TYPE:
        raise UnsupportedMediaTypeError(f"Send the parameters as {FORM_MEDIA_TYPE}.")
    refuse_cross_site_form(request, settings)
    try:
        # strict: a percent-escape that is not UTF-8 is refused, not turned into U+FFFD
        parsed = parse_qs((await request.body()).decode("utf-8"), errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequestError("The request body is not valid UTF-8.") from None
    known = {name: values for name, values in parsed.items() if name in PARAMETERS}
    repeated = sorted(name for name, values in known.items() if len(values) > 1)
    if repeated:
        raise InvalidRequestError(f"Parameters sent more than once: {', '.join(repeated)}.")
    return {name: values[0] for name, values in known.items()}


def required(form: OAuthForm, name: str) -> str:
    value = form.get(name)
    if not value:
        raise InvalidRequestError(f"The {name} parameter is required.")
    return value
