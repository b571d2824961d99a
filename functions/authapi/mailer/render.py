"""A message as it is sent: plain text and HTML from one template pair, as one MIME message.

Jinja2 with autoescape on the HTML part (every value a template prints is escaped) and
StrictUndefined (a missing value is an error, not an empty link). No tracking pixel, no remote
image, no List-Unsubscribe: account mail is not a newsletter, and its recipient must get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from authapi.config import Settings
from authapi.mailer.kinds import MailJob, MailKind

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    raw: bytes  # multipart/alternative, ready for SES's Content.Raw


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        # the HTML part escapes every value it prints; the text part is not HTML
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def base_context(settings: Settings) -> dict[str, Any]:
    return {
        "product_name": settings.mail_product_name,
        "app_url": settings.public_app_url.rstrip("/"),
    }


def render(kind: MailKind, job: MailJob, extra: dict[str, Any]) -> RenderedMail:
    context = {**base_context(job.settings), "email": job.email, **extra}
    environment = _environment()
    text = environment.get_template(f"{kind.template}.txt.j2").render(context)
    html = environment.get_template(f"{kind.template}.html.j2").render(context)
    subject = kind.subject.format(product_name=job.settings.mail_product_name)
    return RenderedMail(
        subject=subject, text=text, html=html, raw=mime(job, subject=subject, text=text, html=html)
    )


def mime(job: MailJob, *, subject: str, text: str, html: str) -> bytes:
    message = EmailMessage()
    message["From"] = job.settings.mail_from
    message["To"] = job.email
    message["Subject"] = subject
    message["Date"] = formatdate(job.now.timestamp(), usegmt=True)
    sender_domain = parseaddr(job.settings.mail_from)[1].rpartition("@")[2] or "authapi.invalid"
    # stable per outbox row: a duplicate send (README: the duplicate window) is recognisable
    message["Message-ID"] = f"<{job.outbox_id.hex}@{sender_domain}>"
    # RFC 3834: no vacation replies or auto-responders answering account mail
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message.as_bytes(policy=SMTP)
