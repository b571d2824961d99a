"""Each tenant's loader criteria are built once and reused; they still name that tenant, every
tenant-owned class, and a class mapped later."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

import authapi.models  # noqa: F401  (every tenant-owned class mapped)
from authapi.db import tenant_criteria
from authapi.models import User

pytestmark = pytest.mark.unit


def _sql(tenant: str) -> tuple[str, dict[str, object]]:
    statement = select(User.id).options(*tenant_criteria._criteria_for(tenant))  # noqa: SLF001
    compiled = statement.compile(dialect=postgresql.dialect())
    return str(compiled), dict(compiled.params)


def test_a_tenants_criteria_are_built_once_and_name_it() -> None:
    first = tenant_criteria._criteria_for("acme")  # noqa: SLF001
    assert tenant_criteria._criteria_for("acme") is first  # noqa: SLF001
    assert len(first) == len(tenant_criteria._tenant_owned())  # noqa: SLF001
    sql, params = _sql("acme")
    assert "users.tenant_id" in sql
    assert "acme" in params.values()
    # another tenant: its own options, its own value, the same SQL
    other_sql, other_params = _sql("globex")
    assert other_sql == sql
    assert "globex" in other_params.values()
    assert "acme" not in other_params.values()


def test_a_class_imported_later_gets_its_criterion(monkeypatch: pytest.MonkeyPatch) -> None:
    owned = tenant_criteria._tenant_owned()  # noqa: SLF001
    # as if the last model's module had not been imported yet
    monkeypatch.setattr(tenant_criteria, "_tenant_owned", lambda: owned[:-1])
    before = tenant_criteria._criteria_for("initech")  # noqa: SLF001
    monkeypatch.setattr(tenant_criteria, "_tenant_owned", lambda: owned)
    after = tenant_criteria._criteria_for("initech")  # noqa: SLF001
    assert len(before) == len(owned) - 1
    assert len(after) == len(owned)


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenant_criteria, "MAX_CACHED_TENANTS", 4)
    for number in range(10):
        tenant_criteria._criteria_for(f"tenant-{number}")  # noqa: SLF001
    assert len(tenant_criteria._criteria) <= 4  # noqa: SLF001
