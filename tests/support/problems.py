"""Assertions on problem+json (RFC 9457) answers."""

from __future__ import annotations

from tests.support.http import Reply

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


def assert_problem(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply
    assert reply.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert (reply.body["status"], reply.body["code"]) == (status, code)


def assert_database_unavailable(reply: Reply) -> None:
    """A 503 the client can retry, in the documented shape: no stack trace, no internals."""
    assert_problem(reply, 503, "database_unavailable")
    assert set(reply.body) == PROBLEM_KEYS
    assert reply.headers["retry-after"].isdigit()
