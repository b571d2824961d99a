"""devtools.tiers: a tier without its tool skips with the reason, or fails where all must run."""

from __future__ import annotations

import sys

import pytest

from devtools import tiers

pytestmark = pytest.mark.unit

ABSENT = "authapi-no-such-tool"


def test_a_present_tool_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tiers.REQUIRE_ALL_TIERS, "1")
    assert tiers.require_tool("sh", "it is everywhere").endswith("/sh")


@pytest.mark.parametrize("value", ["", "0"])
def test_a_missing_tool_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(tiers.REQUIRE_ALL_TIERS, value)
    with pytest.raises(pytest.skip.Exception, match=f"{ABSENT} is not installed \\(apt-get it\\)"):
        tiers.require_tool(ABSENT, "apt-get it")


def test_a_missing_tool_fails_when_every_tier_must_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tiers.REQUIRE_ALL_TIERS, "1")
    with pytest.raises(pytest.fail.Exception, match="AUTHAPI_REQUIRE_ALL_TIERS=1"):
        tiers.require_tool(ABSENT, "apt-get it")


def test_the_system_directories_are_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(tiers, "SYSTEM_DIRS", (str(sys.executable).rsplit("/", 1)[0],))
    assert tiers.find_tool("python") is not None


def test_make_gets_the_same_rule_as_an_exit_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["require", ABSENT, "--tier", "the X run", "--reason", "apt-get it"]
    monkeypatch.delenv(tiers.REQUIRE_ALL_TIERS, raising=False)
    assert tiers.main(command) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"SKIPPED the X run: {ABSENT} is not installed (apt-get it)\n")

    monkeypatch.setenv(tiers.REQUIRE_ALL_TIERS, "1")
    assert tiers.main(command) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"FAILED the X run: {ABSENT} is not installed")

    assert tiers.main(["require", "sh", "--tier", "t", "--reason", "r"]) == 0
    assert capsys.readouterr().out.strip().endswith("/sh")
