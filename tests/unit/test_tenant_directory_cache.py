"""The tenant directory's cache is bounded: anyone may ask for /t/<any id>/ (review of issue 17)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from authapi.tenants import directory
from authapi.tenants.directory import MAX_ENTRIES, TenantRecord


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    directory.forget()
    yield
    directory.forget()


def test_unknown_ids_never_grow_the_cache_past_its_bound() -> None:
    for n in range(MAX_ENTRIES * 2):
        directory.remember(f"unknown-{n}", None, now=1.0)
    assert len(directory.cached_ids()) <= MAX_ENTRIES


def test_a_real_tenant_is_kept_when_unknown_ids_filled_the_cache() -> None:
    for n in range(MAX_ENTRIES):
        directory.remember(f"unknown-{n}", None, now=1.0)
    directory.remember("acme", TenantRecord(id="acme", name="Acme"), now=2.0)
    assert "acme" in directory.cached_ids()
    assert len(directory.cached_ids()) <= MAX_ENTRIES


def test_expired_entries_go_first() -> None:
    for n in range(MAX_ENTRIES):
        directory.remember(f"t{n}", TenantRecord(id=f"t{n}", name="T"), now=1.0)
    later = 1.0 + directory.CACHE_SECONDS
    directory.remember("fresh", None, now=later)
    assert directory.cached_ids() == ["fresh"]
