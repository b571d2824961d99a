"""`make sdk-errors`: the client SDK's error classes, generated from the service's own OpenAPI.

Every problem response of the API lists the codes it can carry as an `enum` (authapi.problems);
the OAuth endpoints list RFC 6749 `error` values beside our `code`s (authapi.oauth.schemas). This
writes one class per code, under the base of the status the problem responses document it with
(the OAuth endpoints' RFC 6749 statuses only for codes nothing else answers), and one per RFC 6749
`error` value that is no code of ours, into sdk/python/src/authapi_client/errors_generated.py.
`--check` fails when that file is not what the OpenAPI gives (a test runs it).

Usage: python -m devtools.sdk_errors [--check]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "sdk/python/src/authapi_client/errors_generated.py"
PROBLEM = "application/problem+json"
OAUTH_JSON = "application/json"
# RFC 6749 section 5.2 and RFC 7009 section 2.2.1: every `error` an OAuth client may meet
RFC_OAUTH_ERRORS = (
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "unsupported_token_type",
)
# `error` values that say only "later" or "broken": the status's own base class answers them,
# with `retry_after` (429 and 503 both carry temporarily_unavailable)
BY_STATUS_OAUTH_ERRORS = ("temporarily_unavailable", "server_error")
# the hand-written bases of authapi_client.errors, by the status they stand for
STATUS_BASES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "ForbiddenError",
    404: "NotFoundError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    422: "UnprocessableEntityError",
    429: "RateLimitedError",
    503: "ServiceUnavailableError",
}


@dataclass
class Documented:
    """What the OpenAPI says of one code (or one RFC 6749 error value)."""

    problem_statuses: set[int] = field(default_factory=set)
    oauth_statuses: set[int] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    oauth_errors: set[str] = field(default_factory=set)  # RFC 6749 errors it comes with


def service_openapi() -> dict[str, Any]:
    """The app's OpenAPI document, built offline (no database, no AWS)."""
    from authapi.app import create_app
    from authapi.config import Settings
    from authapi.key_material import generate_private_key_pem

    settings = Settings(
        environment="test",
        database_url="postgresql+asyncpg://openapi@127.0.0.1:1/openapi",
        jwt_private_key=generate_private_key_pem(),
    )
    schema: dict[str, Any] = create_app(settings).openapi()
    return schema


def _narrowed(schema: dict[str, Any]) -> dict[str, Any]:
    """The properties of the `allOf` part that narrows `code` (and `error`) to enums."""
    for part in schema.get("allOf", []):
        if "properties" in part:
            properties: dict[str, Any] = part["properties"]
            return properties
    return {}


def _responses(openapi: dict[str, Any]) -> Iterator[tuple[int, str, dict[str, Any], str]]:
    """Each error response's status, media type, schema and description."""
    for item in openapi["paths"].values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                for media_type, content in response.get("content", {}).items():
                    if status.isdigit() and int(status) >= 400:
                        schema = content.get("schema", {})
                        yield int(status), media_type, schema, response.get("description", "")


def documented_codes(openapi: dict[str, Any]) -> tuple[dict[str, Documented], set[str]]:
    """Every code the API documents, and every RFC 6749 `error` value its OAuth endpoints do."""
    codes: dict[str, Documented] = {}
    oauth_errors: set[str] = set()
    for status, media_type, schema, description in _responses(openapi):
        properties = _narrowed(schema)
        oauth_errors.update(properties.get("error", {}).get("enum", []))
        for code in properties.get("code", {}).get("enum", []):
            found = codes.setdefault(code, Documented())
            if media_type == PROBLEM:
                found.problem_statuses.add(status)
            elif media_type == OAUTH_JSON:
                found.oauth_statuses.add(status)
        # the prose pairs them, for the docstrings: "`code`: Title" and "`error` (`code`)"
        for entry in description.split("; "):
            if media_type == PROBLEM and (titled := re.fullmatch(r"`(\w+)`: (.+)", entry)):
                codes.setdefault(titled[1], Documented()).titles.add(titled[2])
            elif paired := re.fullmatch(r"`(\w+)` \(`(\w+)`\)", entry):
                codes.setdefault(paired[2], Documented()).oauth_errors.add(paired[1])
    return codes, oauth_errors


def class_name(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_"))


def base_of(statuses: set[int]) -> str:
    if len(statuses) == 1 and (status := next(iter(statuses))) in STATUS_BASES:
        return STATUS_BASES[status]
    if statuses and all(400 <= status < 500 for status in statuses):
        return "ClientError"
    if statuses and all(status >= 500 for status in statuses):
        return "ServerError"
    return "AuthApiError"


def _docstring(code: str, found: Documented) -> str:
    if found.titles:
        text = " / ".join(sorted(found.titles)) + f" (`{code}`)."
    else:
        text = f"`{code}`, answered by the OAuth endpoints."
    if found.oauth_errors:
        text += " OAuth `error`: " + ", ".join(f"`{e}`" for e in sorted(found.oauth_errors)) + "."
    return text


def render(openapi: dict[str, Any]) -> str:
    codes, oauth_errors = documented_codes(openapi)
    blocks: list[str] = []
    names: dict[str, str] = {}
    for code in sorted(codes):
        found = codes[code]
        statuses = found.problem_statuses or found.oauth_statuses
        base = base_of(statuses)
        names[code] = class_name(code)
        blocks.append(_class(names[code], base, _docstring(code, found), statuses))
    oauth_names: dict[str, str] = {}
    for error in sorted((oauth_errors | set(RFC_OAUTH_ERRORS)) - set(BY_STATUS_OAUTH_ERRORS)):
        if error in names:
            oauth_names[error] = names[error]
            continue
        status = 401 if error == "invalid_client" else 400  # RFC 6749 section 5.2
        oauth_names[error] = class_name(error)
        doc = f"RFC 6749 `error` `{error}` with a `code` this SDK does not know."
        blocks.append(_class(oauth_names[error], STATUS_BASES[status], doc, {status}))
    code_map = "".join(f'    "{code}": {name},\n' for code, name in sorted(names.items()))
    oauth_map = "".join(f'    "{error}": {name},\n' for error, name in sorted(oauth_names.items()))
    exported = sorted({*names.values(), *oauth_names.values()})
    all_list = "".join(f'    "{name}",\n' for name in ["CODE_CLASSES", "OAUTH_ERRORS", *exported])
    bases = {"AuthApiError", *(line.split("(")[1].split(")")[0] for line in blocks)}
    imports = "".join(f"    {base},\n" for base in sorted(bases))
    return formatted(
        HEADER.format(imports=imports)
        + "\n\n".join(blocks)
        + "\n\n\n# every code the API documents: the class its answers raise\n"
        + "CODE_CLASSES: dict[str, type[AuthApiError]] = {\n"
        + code_map
        + "}\n"
        + "# RFC 6749 `error` values of /api/v1/oauth/*, for an answer whose `code` is unknown\n"
        + "# ("
        + ", ".join(BY_STATUS_OAUTH_ERRORS)
        + ": the status's base)\n"
        + "OAUTH_ERRORS: dict[str, type[AuthApiError]] = {\n"
        + oauth_map
        + "}\n\n"
        + "__all__ = [\n"
        + all_list
        + "]\n"
    )


def formatted(source: str) -> str:
    """`source` as `ruff format` leaves it (so that `make lint` and `--check` agree)."""
    beside = Path(sys.executable).with_name("ruff")  # the dev venv's own, as `make lint` runs
    ruff = beside if beside.exists() else Path(shutil.which("ruff") or "ruff")
    result = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(TARGET), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return result.stdout


def _class(name: str, base: str, doc: str, statuses: set[int]) -> str:
    status = next(iter(statuses)) if len(statuses) == 1 else 0
    lines = textwrap.wrap(doc, width=92)
    if len(lines) == 1:
        body = f'    """{doc}"""\n'
    else:
        body = '    """' + "\n    ".join(lines) + '\n    """\n'
    if status and STATUS_BASES.get(status) != base:
        body += f"\n    default_status = {status}\n"
    return f"class {name}({base}):\n{body}"


HEADER = '''"""One exception class per `code` authapi's OpenAPI documents. GENERATED: do not edit.

`make sdk-errors` writes it from the service's OpenAPI (devtools/sdk_errors.py); a test fails
when the API documents a code this file lacks.
"""

from __future__ import annotations

from authapi_client.errors import (
{imports})


'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    arguments = parser.parse_args(argv)
    text = render(service_openapi())
    if arguments.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(REPO)} is out of date: make sdk-errors", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
