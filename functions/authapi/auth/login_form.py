"""Login credentials from a JSON body or from the OAuth2 password form (`username`, `password`).

The form is what Swagger UI's "Authorize" dialog posts; reading it by hand keeps the login
endpoint free of a multipart dependency and lets both shapes share one validation path.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from authapi.auth.schemas import LoginRequest
from authapi.config import Settings
from authapi.exceptions import CrossSiteRequestError, InvalidRequestError, UnsupportedMediaTypeError
from authapi.request_body import FORM_MEDIA_TYPE, JSON_MEDIA_TYPE, is_json, media_type
from authapi.resources import SettingsDep


def _form_fields(body: bytes) -> dict[str, Any]:
    # strict: a percent-escape that is not UTF-8 is refused, not turned into U+FFFD
    form = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    fields = {name: values[0] for name, values in form.items() if values}
    return {
        "email": fields.get("username", fields.get("email")),
        "password": fields.get("password"),
        "device_token": fields.get("device_token"),  # an empty one is refused, as in JSON
    }


def _invalid(loc: tuple[str | int, ...], msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": "value_error"}])


# Fetch metadata a browser attaches: anything but its own origin (or none, from a typed URL)
_CROSS_SITE_FETCHES = frozenset({"cross-site", "same-site"})


def refuse_cross_site_form(request: Request, settings: Settings) -> None:
    """A form body is what any web page can make its visitors' browsers post here, without a
    CORS preflight: from another site it could spend the visitors' addresses on failed logins.
    Browsers say where a request comes from; clients that are not browsers send neither header
    (curl, CLIs, servers) and pass."""
    fetch_site = request.headers.get("sec-fetch-site", "").lower()
    origin = request.headers.get("origin")
    if fetch_site in _CROSS_SITE_FETCHES or (
        origin is not None and origin not in settings.allowed_origins
    ):
        raise CrossSiteRequestError()


async def read_login_credentials(request: Request, settings: SettingsDep) -> LoginRequest:
    media = media_type(request)
    if media == FORM_MEDIA_TYPE:
        if settings.environment == "production" and not settings.oauth_password_grant:
            # the form is the password grant under another name: with the grant off, so is it
            # (Swagger UI's "Authorize" dialog, its one user, is off in production too)
            raise UnsupportedMediaTypeError(f"Send the credentials as {JSON_MEDIA_TYPE}.")
        refuse_cross_site_form(request, settings)
    body = await request.body()
    if body and media != FORM_MEDIA_TYPE and not is_json(media):
        # not even an unlabelled body passes as JSON: text/plain is what a cross-site form can
        # send without a CORS preflight
        raise UnsupportedMediaTypeError(
            f"Send the credentials as {JSON_MEDIA_TYPE} or as {FORM_MEDIA_TYPE}."
        )
    try:
        # no body at all is missing fields, as FastAPI reports it on the other endpoints
        data = _form_fields(body) if media == FORM_MEDIA_TYPE else json.loads(body or b"{}")
    except UnicodeDecodeError:
        # as FastAPI answers undecodable JSON on the other endpoints
        raise InvalidRequestError("The request body is not valid UTF-8.") from None
    except json.JSONDecodeError as error:
        raise _invalid(("body", error.pos), "JSON decode error") from None
    except (ValueError, RecursionError):
        # valid JSON syntax the parser still refuses: nesting deeper than the recursion limit,
        # integers longer than int_max_str_digits; FastAPI answers its own endpoints so, too
        raise InvalidRequestError("The request body could not be parsed.") from None
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]
        ) from None


def _login_openapi_body() -> dict[str, Any]:
    """Both shapes of the login body, derived from LoginRequest so they state what it checks."""
    as_json = LoginRequest.model_json_schema()
    email, password = as_json["properties"]["email"], as_json["properties"]["password"]
    device_token = as_json["properties"]["device_token"]
    as_form = {
        "title": "LoginForm",
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {**email, "title": "Username", "description": "The account's email."},
            "password": password,
            "device_token": device_token,
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON_MEDIA_TYPE: {"schema": as_json},
                FORM_MEDIA_TYPE: {"schema": as_form},
            },
        }
    }


LOGIN_OPENAPI_BODY = _login_openapi_body()
