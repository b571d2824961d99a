"""docs/events/schemas/<type>.json: one JSON Schema per audit event type, from the catalog.

Each describes the event as an EventBridge rule's target receives it: the envelope's `source`
and `detail-type`, and the `detail` every type shares (authapi.audit.publisher.public_event).
A type's `details` stay an open object until its flow documents them (docs/audit-events.md).
Written from authapi.audit.events.EventType; tests/devtools/test_event_schemas.py fails when
the files and the catalog differ.

Usage: python -m devtools.event_schemas [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from authapi.audit.events import ActorKind, EventType

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "events" / "schemas"
SOURCE = "authapi"  # the default of AUTHAPI_EVENT_SOURCE
BASE_URL = "https://authapi.invalid/events/schemas/"

_UUID = {"type": "string", "format": "uuid"}
_NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}


def _nullable_text(max_length: int, description: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_length, "description": description}


def detail_properties(event_type: EventType) -> dict[str, Any]:
    """The `detail` of one type: the keys public_event writes, in its order."""
    return {
        "id": {
            **_UUID,
            "description": "The event's own id: the key to deduplicate on (delivery is at "
            "least once; EventBridge's envelope id differs on each delivery attempt).",
        },
        "type": {"const": event_type.value},
        "tenant": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9-]{0,31}$",
            "description": "The tenant (realm) it belongs to: `default` for a single-tenant "
            "deployment and for every event before tenancy (docs/tenancy.md).",
        },
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "When it happened (UTC, RFC 3339).",
        },
        "user_id": {
            **_NULLABLE_UUID,
            "description": "The account it is about; null when none is known (a login to an "
            "unknown address). No email is ever published.",
        },
        "actor": {
            "type": "object",
            "required": ["kind", "id"],
            "additionalProperties": False,
            "properties": {
                "kind": {"enum": [kind.value for kind in ActorKind]},
                "id": {
                    **_NULLABLE_UUID,
                    "description": "The user's or admin's id; null for the service itself.",
                },
            },
        },
        "session_id": _NULLABLE_UUID,
        "client_id": _nullable_text(64, "The OAuth client (the JSON API's is `default`)."),
        "ip": _nullable_text(45, "The trusted client address of the request."),
        "user_agent": _nullable_text(256, "The request's User-Agent, cut to 256 characters."),
        "request_id": _nullable_text(100, "The request's id (its X-Request-Id)."),
        "details": {
            "type": "object",
            "description": "Non-secret facts of this type (a reason, a count); never a token, "
            "code, password, hash of one, or email. Keys per type: docs/audit-events.md.",
        },
    }


def schema_for(event_type: EventType) -> dict[str, Any]:
    properties = detail_properties(event_type)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_URL}{event_type.value}.json",
        "title": f"authapi audit event {event_type.value}",
        "description": "As an EventBridge rule's target receives it (docs/audit-events.md).",
        "type": "object",
        "required": ["id", "source", "detail-type", "time", "detail"],
        "properties": {
            "id": {"type": "string", "description": "EventBridge's id of this delivery."},
            "source": {
                "type": "string",
                "default": SOURCE,
                "description": "AUTHAPI_EVENT_SOURCE (authapi unless configured).",
            },
            "detail-type": {"const": event_type.value},
            "time": {"type": "string", "format": "date-time"},
            "detail": {
                "type": "object",
                "required": list(properties),
                "additionalProperties": False,
                "properties": properties,
            },
        },
    }


def rendered(event_type: EventType) -> str:
    return json.dumps(schema_for(event_type), indent=2) + "\n"


def expected_files() -> dict[str, str]:
    return {f"{event_type.value}.json": rendered(event_type) for event_type in EventType}


def stale_files(folder: Path = SCHEMAS) -> list[str]:
    """What differs from the catalog: missing, changed, or no longer a type."""
    wanted = expected_files()
    present = {path.name for path in folder.glob("*.json")} if folder.is_dir() else set()
    stale = sorted(name for name in present - set(wanted))
    stale += sorted(
        name
        for name, text in wanted.items()
        if not (folder / name).is_file() or (folder / name).read_text() != text
    )
    return stale


def write(folder: Path = SCHEMAS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = expected_files()
    for path in folder.glob("*.json"):
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        (folder / name).write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args()
    if args.check:
        stale = stale_files()
        if stale:
            sys.exit(f"stale event schemas (run python -m devtools.event_schemas): {stale}")
        return
    write()
    print(f"{len(EventType)} schemas in {SCHEMAS}")


if __name__ == "__main__":
    main()
