"""The lifecycle kinds' contexts: what their templates print, minted in the claim transaction.

A link carries its token in the URL fragment (`#token=`): a browser sends no fragment to any
server, so it reaches neither the web app's access logs nor a Referer header. Opening the link
spends nothing either: the web app reads the fragment and POSTs it (mail clients' link scanners
follow links).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.mailer.job import MailJob
from authapi.models import User
from authapi.users import account_tokens


def link(job: MailJob, path: str, token: str) -> str:
    base = job.settings.public_app_url.rstrip("/")
    return f"{base}/{path.lstrip('/')}#token={quote(token, safe='')}"


def _minutes(seconds: int) -> int:
    return max(1, seconds // 60)


async def _mint(
    db: AsyncSession,
    job: MailJob,
    *,
    purpose: str,
    ttl: int,
    with_code: bool = False,
    new_email: str | None = None,
    email: str | None = None,
) -> account_tokens.Minted:
    if job.account_id is None or job.data_keys is None:
        raise LookupError("a lifecycle mail needs its account and the data keys")
    return await account_tokens.mint(
        db,
        job.data_keys,
        outbox_id=job.outbox_id,
        account_id=job.account_id,
        email=email or job.email,
        purpose=purpose,
        now=job.now,
        expires_at=job.now + timedelta(seconds=ttl),
        with_code=with_code,
        new_email=new_email,
    )


async def email_verification(db: AsyncSession, job: MailJob) -> dict[str, Any] | None:
    """The code and the link; nothing at all for an account verified meanwhile (a resend)."""
    verified = await db.scalar(select(User.email_verified_at).where(User.id == job.account_id))
    if verified is not None:
        return None
    ttl = job.settings.email_verification_ttl_seconds
    minted = await _mint(
        db, job, purpose=account_tokens.EMAIL_VERIFICATION, ttl=ttl, with_code=True
    )
    return {
        "code": minted.code,
        "link": link(job, job.settings.email_verification_path, minted.token),
        "minutes": _minutes(ttl),
    }


async def password_reset(db: AsyncSession, job: MailJob) -> dict[str, Any] | None:
    ttl = job.settings.password_reset_ttl_seconds
    minted = await _mint(db, job, purpose=account_tokens.PASSWORD_RESET, ttl=ttl)
    return {
        "link": link(job, job.settings.password_reset_path, minted.token),
        "minutes": _minutes(ttl),
    }


async def email_change(db: AsyncSession, job: MailJob) -> dict[str, Any] | None:
    """To the new address (the row's sealed one), for the account that asked: bound to the
    account's current email, so the token dies if that changes first."""
    if job.account_id is None:
        return None
    current = await db.scalar(select(User.email).where(User.id == job.account_id))
    if current is None:
        return None
    ttl = job.settings.email_change_ttl_seconds
    minted = await _mint(
        db, job, purpose=account_tokens.EMAIL_CHANGE, ttl=ttl, new_email=job.email, email=current
    )
    return {
        "link": link(job, job.settings.email_change_path, minted.token),
        "minutes": _minutes(ttl),
    }
