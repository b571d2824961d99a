"""Deprecation headers on every answer of a deprecated path (authapi.api_versions): successes,
problems and the answers of the middleware inside the front one alike, so a client learns of the
sunset from whatever it gets back. Applied by `authapi.middleware.front`."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders

HeadersByPath = Mapping[str, Mapping[str, str]]


def add_deprecation_headers(headers: MutableHeaders, extra: Mapping[str, str]) -> None:
    for name, value in extra.items():
        headers.append(name, value)
