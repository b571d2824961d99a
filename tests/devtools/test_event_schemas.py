"""docs/events/schemas/: one JSON Schema per audit event type, the same as the catalog makes
them, describing exactly the detail the publisher sends."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

from authapi.audit.events import EventType
from authapi.audit.publisher import public_event, put_events_entry
from devtools.event_schemas import SCHEMAS, schema_for, stale_files, write

pytestmark = pytest.mark.unit


def test_the_files_are_the_catalogs() -> None:
    # after adding an EventType: python -m devtools.event_schemas
    assert stale_files() == []
    assert {path.stem for path in SCHEMAS.glob("*.json")} == {t.value for t in EventType}


def test_a_new_type_or_a_stale_file_is_found(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "login.succeeded.json").write_text("{}")
    (tmp_path / "no.such_type.json").write_text("{}")
    (tmp_path / "logout.json").unlink()

    assert stale_files(tmp_path) == ["no.such_type.json", "login.succeeded.json", "logout.json"]


def row(event_type: EventType, **values: object) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "occurred_at": datetime(2030, 6, 1, 12, 0, tzinfo=UTC),
        "type": event_type.value,
        "user_id": uuid.uuid4(),
        "actor_kind": "admin",
        "actor_id": uuid.uuid4(),
        "session_id": None,
        "client_id": "default",
        "ip": "2001:db8::1",
        "user_agent": "Browser/1.0",
        "request_id": "req-1",
        "details": {"reason": "test"},
        **values,
    }


@pytest.mark.parametrize("event_type", list(EventType))
def test_what_the_publisher_sends_is_what_the_schema_says(event_type: EventType) -> None:
    schema = schema_for(event_type)
    entry = put_events_entry(row(event_type), source="authapi")
    detail = json.loads(entry["Detail"])

    jsonschema.validate(detail, schema["properties"]["detail"])
    assert entry["DetailType"] == schema["properties"]["detail-type"]["const"]
    # every key the publisher writes is described, and required: nothing published unlisted
    assert list(schema["properties"]["detail"]["properties"]) == list(detail)


def test_a_detail_of_another_type_or_with_an_extra_key_is_refused() -> None:
    detail = public_event(row(EventType.LOGOUT))
    schema = schema_for(EventType.LOGIN_SUCCEEDED)["properties"]["detail"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(detail, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**public_event(row(EventType.LOGIN_SUCCEEDED)), "email": "a@example.com"}, schema
        )
