"""Unit tests see default settings, whatever the developer's shell exports."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_settings_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AUTHAPI_"):
            monkeypatch.delenv(name)
