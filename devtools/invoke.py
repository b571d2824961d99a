"""`make invoke EVENT=events/<name>.json`: one event through the real handler (as sam local invoke).

Prints the handler's log lines (JSON, as CloudWatch would show them) and then its response.
Placeholders in the event are filled first: `{{email}}` with a fresh address, and
`{{access_token}}` / `{{refresh_token}}` with the tokens of a throwaway account registered
through the same handler.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from devtools.lambda_events import (
    fill_placeholders,
    json_request,
    lambda_context,
    placeholders_in,
    response_json,
)
from devtools.local_stack import migrate_through_handler, start_local_stack


def _throwaway_tokens(handler: Any, email: str) -> dict[str, str]:
    request = json_request(
        "POST", "/api/auth/register", {"email": email, "password": "correct horse battery staple"}
    )
    body = response_json(handler(request, lambda_context()))
    return {"access_token": body["access_token"], "refresh_token": body["refresh_token"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("event", type=Path, help="an event file, e.g. events/me.json")
    args = parser.parse_args()
    event: dict[str, Any] = json.loads(args.event.read_text())

    stack = start_local_stack()
    try:
        migrate_through_handler()
        from authapi.handlers.api import handler

        needed = placeholders_in(event)
        values = {"email": f"invoke-{uuid.uuid4().hex[:8]}@example.com"}
        if needed & {"access_token", "refresh_token"}:
            values.update(_throwaway_tokens(handler, f"invoke-{uuid.uuid4().hex[:8]}@example.com"))
        print(f"--- invoking authapi.handlers.api.handler with {args.event}", file=sys.stderr)
        response = handler(fill_placeholders(event, values), lambda_context())
        print("--- response", file=sys.stderr)
        print(json.dumps(response, indent=2))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
