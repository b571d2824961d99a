"""The login throttle's keys: keyed hashes of the email, per account and per client network."""

from __future__ import annotations

import hashlib

import pytest

from authapi.abuse.login_throttle import account_log_id, login_keys
from authapi.key_material import generate_data_key_entry
from authapi.signing.keys import DataKeys

pytestmark = pytest.mark.unit

KEYS = DataKeys.parse(generate_data_key_entry())
EMAIL = "ada@example.com"


def test_one_ipv6_subscriber_is_one_client_whatever_address_it_rotates_to() -> None:
    first = login_keys(KEYS, email=EMAIL, client="2001:db8:1:2::1")
    second = login_keys(KEYS, email=EMAIL, client="2001:db8:1:2:ffff::9")
    elsewhere = login_keys(KEYS, email=EMAIL, client="2001:db8:1:3::1")
    assert first == second
    assert first.account_client != elsewhere.account_client
    assert first.account == elsewhere.account


def test_each_ipv4_address_is_its_own_client() -> None:
    one = login_keys(KEYS, email=EMAIL, client="198.51.100.1")
    other = login_keys(KEYS, email=EMAIL, client="198.51.100.2")
    assert one.account == other.account
    assert one.account_client != other.account_client


def test_keys_are_not_a_dictionary_of_emails() -> None:
    keys = login_keys(KEYS, email=EMAIL, client="198.51.100.1")
    assert hashlib.sha256(EMAIL.encode()).digest() not in (keys.account, keys.account_client)
    # another deployment (other data keys) makes other keys: a leaked table matches nothing
    theirs = login_keys(
        DataKeys.parse(generate_data_key_entry()), email=EMAIL, client="198.51.100.1"
    )
    assert theirs.account != keys.account
    assert EMAIL not in account_log_id(KEYS, EMAIL)
    assert account_log_id(KEYS, EMAIL) != keys.account.hex()[:24]  # one purpose, one digest
