"""The password policy."""

from __future__ import annotations

import pytest

from authapi.config import Settings
from authapi.exceptions import WeakPasswordError
from authapi.users.password_policy import check_password_policy, common_passwords

pytestmark = pytest.mark.unit

SETTINGS = Settings(_env_file=None)


def test_the_common_password_list_is_large() -> None:
    assert len(common_passwords()) >= 10_000
    assert {"password", "123456", "qwerty", "iloveyou"} <= common_passwords()


@pytest.mark.parametrize("password", ["Password1", "QWERTYUIOP", "sunshine", "football1"])
def test_common_passwords_are_refused_in_any_case(password: str) -> None:
    with pytest.raises(WeakPasswordError, match="too common"):
        check_password_policy(SETTINGS, password=password, email="a@example.com")


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "ünïcødé pässwörd", "        spaces count", "8 chars!"],
)
def test_long_uncommon_passwords_pass_without_composition_rules(password: str) -> None:
    check_password_policy(SETTINGS, password=password, email="a@example.com")


def test_length_is_counted_in_code_points() -> None:
    check_password_policy(SETTINGS, password="пароль🙂🙂", email="a@example.com")  # 8 code points
    with pytest.raises(WeakPasswordError, match="at least 8"):
        check_password_policy(SETTINGS, password="пароль🙂", email="a@example.com")


def test_minimum_length_is_configurable() -> None:
    settings = Settings(_env_file=None, password_min_length=12)
    with pytest.raises(WeakPasswordError, match="at least 12"):
        check_password_policy(settings, password="elevenchars", email="a@example.com")


@pytest.mark.parametrize(
    "password", ["ada.lovelace@example.com", "ADA.LOVELACE", "my ada.lovelace@example.com!"]
)
def test_own_email_is_refused(password: str) -> None:
    with pytest.raises(WeakPasswordError, match="email"):
        check_password_policy(SETTINGS, password=password, email="ada.lovelace@example.com")
