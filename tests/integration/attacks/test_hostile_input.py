"""Hostile bodies on every endpoint that reads one: a clear 4xx problem, never a 500.

The endpoints: register and refresh-token (JSON), and login, as JSON and as the OAuth2 password
form. Each case pins the status and `code` a client gets, so a change in either shows up here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.http import ApiClient, Reply
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MEGABYTE = 1024 * 1024
BODY_LIMIT = 64 * 1024  # the default AUTHAPI_MAX_BODY_BYTES


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    media_type: str
    fields: tuple[str, ...]  # the body's own field names, in the order a client sends them

    def encode(self, values: dict[str, object]) -> bytes:
        if self.media_type == FORM:
            # surrogatepass: a lone surrogate goes out as the bytes a careless client would send
            return urlencode(values, encoding="utf-8", errors="surrogatepass").encode()
        # ensure_ascii: a lone surrogate travels as the raw JSON escape "\ud800"
        return json.dumps(values, ensure_ascii=True).encode()

    def valid(self, **changes: str) -> dict[str, object]:
        """A well-formed body for an unknown account or token, with `changes` applied."""
        defaults: dict[str, object] = {
            "email": unique_email(),
            "username": unique_email(),
            "password": STRONG_PASSWORD,
            "refresh_token": "rt_" + "A" * 43,
        }
        values = {name: defaults[name] for name in self.fields}
        values.update(changes)
        return values


REGISTER = Endpoint("register", "/api/auth/register", JSON, ("email", "password"))
LOGIN = Endpoint("login", "/api/auth/login", JSON, ("email", "password"))
LOGIN_FORM = Endpoint("login form", "/api/auth/login", FORM, ("username", "password"))
REFRESH = Endpoint("refresh-token", "/api/auth/refresh-token", JSON, ("refresh_token",))
ALL = [REGISTER, LOGIN, LOGIN_FORM, REFRESH]
JSON_ENDPOINTS = [REGISTER, LOGIN, REFRESH]


def by_name(endpoints: list[Endpoint]) -> Callable[..., object]:
    return pytest.mark.parametrize("endpoint", endpoints, ids=[e.name for e in endpoints])


async def post(
    client: ApiClient,
    endpoint: Endpoint,
    content: bytes | AsyncIterator[bytes],
) -> Reply:
    return await client.post(
        endpoint.path, content=content, headers={"content-type": endpoint.media_type}
    )


# -- malformed and mistyped bodies ----------------------------------------------------------------


@by_name(JSON_ENDPOINTS)
async def test_malformed_json(client: ApiClient, endpoint: Endpoint) -> None:
    truncated = endpoint.encode(endpoint.valid())[:-5]

    assert_problem(await post(client, endpoint, truncated), 422, "validation_error")


@by_name(JSON_ENDPOINTS)
async def test_json_that_is_not_utf8(client: ApiClient, endpoint: Endpoint) -> None:
    response = await post(client, endpoint, b'{"email": "\xff\xfe", "refresh_token": "\xff"}')

    # a body that cannot be decoded is a bad request on every endpoint
    assert_problem(response, 400, "invalid_request")


async def test_form_that_is_not_utf8(client: ApiClient) -> None:
    response = await post(client, LOGIN_FORM, b"username=%ff%fe@example.com&password=\xff")

    assert_problem(response, 400, "invalid_request")


@by_name(JSON_ENDPOINTS)
async def test_deeply_nested_json(client: ApiClient, endpoint: Endpoint) -> None:
    # deeper than Python's recursion limit, and well inside the 64 KiB body limit
    nested = b"[" * 30_000 + b"]" * 30_000

    assert_problem(await post(client, endpoint, nested), 400, "invalid_request")


@by_name(JSON_ENDPOINTS)
async def test_integer_longer_than_the_parser_allows(client: ApiClient, endpoint: Endpoint) -> None:
    # json.loads refuses integers over 4300 digits with a ValueError, not a JSONDecodeError
    huge = b"9" * 5_000
    body = b'{"email": ' + huge + b', "password": 1, "refresh_token": ' + huge + b"}"

    assert_problem(await post(client, endpoint, body), 400, "invalid_request")


WRONG_TYPES: dict[str, list[object]] = {
    "email": [5, None, ["a@example.com"], {"$ne": None}, True],
    "username": [],  # a form has only strings
    "password": [12345678, None, ["x" * 12], {"$gt": ""}, False],
    "refresh_token": [123, None, ["rt_x"], {"$ne": None}, 1.5],
}


@by_name(JSON_ENDPOINTS)
@pytest.mark.parametrize("variant", range(5))
async def test_wrong_types(client: ApiClient, endpoint: Endpoint, variant: int) -> None:
    values: dict[str, object] = endpoint.valid()
    values.update({name: WRONG_TYPES[name][variant] for name in endpoint.fields})

    assert_problem(await post(client, endpoint, endpoint.encode(values)), 422, "validation_error")


@by_name(JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [b"[]", b'["a@example.com"]', b'"text"', b"42", b"null", b"true"])
async def test_body_that_is_not_an_object(
    client: ApiClient, endpoint: Endpoint, body: bytes
) -> None:
    assert_problem(await post(client, endpoint, body), 422, "validation_error")


@by_name(ALL)
async def test_thousands_of_fields(client: ApiClient, endpoint: Endpoint) -> None:
    body = endpoint.encode({f"f{i}": 0 for i in range(4_000)})
    assert len(body) < BODY_LIMIT  # what is tested is the fields, not the size

    assert_problem(await post(client, endpoint, body), 422, "validation_error")


@pytest.mark.parametrize(
    "values",
    [{"username": "a@example.com"}, {"password": STRONG_PASSWORD}, {}],
    ids=["no password", "no username", "nothing"],
)
async def test_form_login_with_missing_fields(client: ApiClient, values: dict[str, str]) -> None:
    response = await post(client, LOGIN_FORM, urlencode(values).encode())

    assert_problem(response, 422, "validation_error")


# -- content types --------------------------------------------------------------------------------


@by_name(ALL)
@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", None])
async def test_wrong_content_type(
    client: ApiClient, endpoint: Endpoint, content_type: str | None
) -> None:
    # a well-formed body for the endpoint, labelled as something else (or not labelled)
    body = endpoint.encode(endpoint.valid())
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(endpoint.path, content=body, headers=headers)

    # text/plain needs no CORS preflight: every endpoint reads only what it documents
    assert_problem(response, 415, "unsupported_media_type")


@by_name(ALL)
@pytest.mark.parametrize("labelled", [True, False], ids=["labelled", "unlabelled"])
async def test_empty_body(client: ApiClient, endpoint: Endpoint, labelled: bool) -> None:
    headers = {"content-type": endpoint.media_type} if labelled else {}

    response = await client.post(endpoint.path, content=b"", headers=headers)

    assert_problem(response, 422, "validation_error")


async def test_real_multipart_login(client: ApiClient) -> None:
    files = {"username": (None, unique_email()), "password": (None, STRONG_PASSWORD)}

    assert_problem(await client.post(LOGIN.path, files=files), 415, "unsupported_media_type")


# -- sizes ----------------------------------------------------------------------------------------


@by_name(ALL)
async def test_one_megabyte_body(client: ApiClient, endpoint: Endpoint) -> None:
    body = endpoint.encode(endpoint.valid(**{endpoint.fields[-1]: "x" * MEGABYTE}))

    response = await post(client, endpoint, body)

    assert_problem(response, 413, "payload_too_large")


@by_name(ALL)
async def test_one_megabyte_body_streamed_without_a_length(
    client: ApiClient, endpoint: Endpoint
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(16):
            yield b"x" * (MEGABYTE // 16)

    response = await post(client, endpoint, chunks())

    assert "content-length" not in response.request_headers
    assert_problem(response, 413, "payload_too_large")


@by_name([REGISTER, LOGIN, LOGIN_FORM])
async def test_ten_thousand_character_password(client: ApiClient, endpoint: Endpoint) -> None:
    body = endpoint.encode(endpoint.valid(password=("correct horse " * 715)[:10_000]))

    assert_problem(await post(client, endpoint, body), 422, "validation_error")


async def test_ten_thousand_character_refresh_token(client: ApiClient) -> None:
    body = REFRESH.encode({"refresh_token": "rt_" + "A" * 10_000})

    assert_problem(await post(client, REFRESH, body), 422, "validation_error")


# -- characters -----------------------------------------------------------------------------------

# refused wherever they appear: PostgreSQL cannot store NUL or a lone surrogate, a log line
# should not carry terminal escapes
REFUSED_CHARS = {"NUL": "\x00", "lone surrogate": "\ud800", "terminal escape": "\x1b[2J"}
ODD = {
    "RTL override": "\u202e",
    "zero-width joiner": "\u200d",
    "combining marks": "e\u0301\u0302\u0303",
    "emoji": "\U0001f600",
    "fullwidth digits": "\uff11\uff12\uff13",
}


def _with_char(endpoint: Endpoint, field: str, char: str) -> dict[str, object]:
    if field in ("email", "username"):
        local, domain = unique_email().split("@")
        return endpoint.valid(**{field: f"{local}{char}x@{domain}"})
    if field == "password":
        return endpoint.valid(password=f"{STRONG_PASSWORD}{char}")
    return endpoint.valid(refresh_token=f"rt_{char}" + "A" * 40)


FIELDS = [(e, f) for e in ALL for f in e.fields]
FIELD_IDS = [f"{e.name} {f}" for e, f in FIELDS]


@pytest.mark.parametrize(("endpoint", "field"), FIELDS, ids=FIELD_IDS)
@pytest.mark.parametrize("char", list(REFUSED_CHARS.values()), ids=list(REFUSED_CHARS))
async def test_refused_characters_are_validation_errors(
    client: ApiClient, endpoint: Endpoint, field: str, char: str
) -> None:
    body = endpoint.encode(_with_char(endpoint, field, char))

    response = await post(client, endpoint, body)

    if endpoint is LOGIN_FORM and char == REFUSED_CHARS["lone surrogate"]:
        # a form carries raw bytes, and a lone surrogate's are not UTF-8: the body is unreadable
        # (JSON can spell one as an escape, "\ud800", which decodes and then fails validation)
        assert_problem(response, 400, "invalid_request")
        return
    assert_problem(response, 422, "validation_error")
    assert response.body["errors"][0]["loc"][0] == "body"


UNKNOWN = [(e, f) for e in (LOGIN, LOGIN_FORM, REFRESH) for f in e.fields]


@pytest.mark.parametrize(("endpoint", "field"), UNKNOWN, ids=[f"{e.name} {f}" for e, f in UNKNOWN])
@pytest.mark.parametrize("char", list(ODD.values()), ids=list(ODD))
async def test_odd_unicode_for_unknown_credentials_is_an_ordinary_401(
    client: ApiClient, endpoint: Endpoint, field: str, char: str
) -> None:
    response = await post(client, endpoint, endpoint.encode(_with_char(endpoint, field, char)))

    code = "invalid_refresh_token" if endpoint is REFRESH else "invalid_credentials"
    assert_problem(response, 401, code)


@pytest.mark.parametrize(
    ("char", "accepted"),
    [
        (ODD["RTL override"], False),
        (ODD["zero-width joiner"], False),
        (ODD["combining marks"], True),
        (ODD["emoji"], True),
        (ODD["fullwidth digits"], True),
    ],
    ids=list(ODD),
)
async def test_odd_unicode_in_a_new_email(client: ApiClient, char: str, accepted: bool) -> None:
    values = _with_char(REGISTER, "email", char)

    response = await post(client, REGISTER, REGISTER.encode(values))

    if not accepted:
        # invisible and direction-changing characters make addresses that look like others
        assert_problem(response, 422, "validation_error")
        return
    assert response.status == 201, response.text
    # the address signs in exactly as it was typed at sign-up, as JSON and as the form
    login = await client.post(LOGIN.path, json=values)
    assert login.status == 200, login.text
    form = {"username": values["email"], "password": values["password"]}
    assert (await client.post(LOGIN.path, data=form)).status == 200


@pytest.mark.parametrize("char", list(ODD.values()), ids=list(ODD))
async def test_odd_unicode_in_a_new_password(client: ApiClient, char: str) -> None:
    # printable Unicode is a legitimate password (NIST SP 800-63B): it must work end to end
    values = _with_char(REGISTER, "password", char)

    assert (await post(client, REGISTER, REGISTER.encode(values))).status == 201

    login = await post(client, LOGIN, LOGIN.encode(values))
    assert login.status == 200, login.text
    form = {"username": values["email"], "password": values["password"]}
    assert (await client.post(LOGIN.path, data=form)).status == 200
