"""Brute-force protection for login, in two layers that a stranger cannot turn against the owner.

- Per account and client network (an IPv4 address, an IPv6 /64): after `login_max_failures`
  failures within `login_failure_window_seconds`, that pair refuses attempts for
  `login_lockout_base_seconds`, doubling with each further failure up to
  `login_lockout_max_seconds`. A stranger's failures lock the stranger out, not the owner.
- Per account, whatever the address: after `login_account_max_failures` failures in the window
  (an attack spread over many addresses), at most one password check per
  `login_account_check_interval_seconds`: a slow-down, never a wall. A device token (returned by
  every successful login, sent back as `device_token`) exempts its holder from this layer.

Each attempt is counted before its password is checked, in one upsert per key whose row lock
makes concurrent attempts take turns, and committed on its own: a burst gets exactly the allowed
number of checks, and a failed request cannot take its count back. A correct password resets its
own pair and gives back its own account-wide attempt, never what other requests added.

Keys are HMACs of the email under the data keys, not bare hashes: unknown emails are throttled
exactly like real ones (a 429 says nothing about who is registered), and the table gives no
dictionary of emails away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CTE, ColumnElement, Delete, ScalarSelect, Update, exists, not_, or_, select

from authapi.abuse import repository
from authapi.abuse.repository import AttemptPolicy
from authapi.client_address import client_network
from authapi.config import Settings
from authapi.exceptions import TooManyAttemptsError
from authapi.signing.keys import DataKeys
from authapi.tenants.throttle_keys import tenant_subject

ACCOUNT_PURPOSE = "login-throttle:account"
ACCOUNT_CLIENT_PURPOSE = "login-throttle:account-client"
LOG_PURPOSE = "log:account"


@dataclass(frozen=True)
class LoginKeys:
    account: bytes  # the account-wide slow-down
    account_client: bytes  # the (account, client network) lock


def login_keys(data_keys: DataKeys, *, email: str, client: str) -> LoginKeys:
    email = tenant_subject(email)  # the default tenant's keys as before tenants existed
    return LoginKeys(
        account=data_keys.hmac(ACCOUNT_PURPOSE, email),
        account_client=data_keys.hmac(ACCOUNT_CLIENT_PURPOSE, f"{email}\0{client_network(client)}"),
    )


def account_log_id(data_keys: DataKeys, email: str) -> str:
    """How log lines name an account by its email: a keyed hash, stable, not reversible."""
    return data_keys.hmac(LOG_PURPOSE, email).hex()[:24]


def account_client_policy(settings: Settings) -> AttemptPolicy:
    return AttemptPolicy(
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_failure_window_seconds,
        lock_base_seconds=settings.login_lockout_base_seconds,
        lock_max_seconds=settings.login_lockout_max_seconds,
        doubles=True,
    )


def account_policy(settings: Settings) -> AttemptPolicy:
    interval = settings.login_account_check_interval_seconds
    return AttemptPolicy(
        max_failures=settings.login_account_max_failures,
        window_seconds=settings.login_failure_window_seconds,
        lock_base_seconds=interval,
        lock_max_seconds=interval,
        doubles=False,
    )


@dataclass(frozen=True)
class AttemptCount:
    """The CTEs that count one attempt, and what the login query reads back from them."""

    account: CTE  # a row when the account-wide layer let the attempt in (and counted it)
    account_client: CTE  # a row when the attempt may check its password
    account_locked_until: ScalarSelect[datetime | None]
    account_client_locked_until: ScalarSelect[datetime | None]


def count_attempt(
    keys: LoginKeys, settings: Settings, *, now: datetime, device_trusted: ColumnElement[bool]
) -> AttemptCount:
    """Count an attempt: account-wide first (skipped for a trusted device), then the pair, only
    if the account-wide layer let it in. A refusal by either counts nothing more."""
    account = repository.count_attempt(
        key=keys.account,
        policy=account_policy(settings),
        now=now,
        when=not_(device_trusted),
        name="account_attempt",
    )
    account_client = repository.count_attempt(
        key=keys.account_client,
        policy=account_client_policy(settings),
        now=now,
        when=or_(device_trusted, exists(select(account.c.failures))),
        name="account_client_attempt",
    )
    return AttemptCount(
        account=account,
        account_client=account_client,
        account_locked_until=repository.locked_until(keys.account),
        account_client_locked_until=repository.locked_until(keys.account_client),
    )


def refusal(
    settings: Settings,
    *,
    refused_by_account: bool,
    locked_until: datetime | None,
    now: datetime,
) -> TooManyAttemptsError:
    """The 429 for a refused attempt: Retry-After from the lock the statement found (a lock set
    by a concurrent attempt in the meantime is not visible to it: then the shortest lock)."""
    if locked_until is not None and locked_until > now:
        seconds = math.ceil((locked_until - now).total_seconds())
    elif refused_by_account:
        seconds = settings.login_account_check_interval_seconds
    else:
        seconds = settings.login_lockout_base_seconds
    return TooManyAttemptsError(retry_after_seconds=seconds)


def after_success(
    keys: LoginKeys, settings: Settings, *, now: datetime, account_counted: bool
) -> list[Delete | Update]:
    """A correct password: its own pair starts afresh; its account-wide attempt is given back."""
    statements: list[Delete | Update] = [repository.reset(keys.account_client)]
    statements += after_first_factor(keys, settings, now=now, account_counted=account_counted)
    return statements


def after_first_factor(
    keys: LoginKeys, settings: Settings, *, now: datetime, account_counted: bool
) -> list[Update]:
    """A correct password that opened an MFA challenge: its account-wide attempt is given back
    (each code counts its own); the pair stays counted until a code answers the challenge, so
    wrong codes from one network still lock that pair out."""
    if not account_counted:
        return []
    return [repository.give_back_attempt(keys.account, policy=account_policy(settings), now=now)]
