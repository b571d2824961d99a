"""The local mailbox on http://127.0.0.1:8025: what the mailer sent to SES's stand-in (moto).

- `GET /`: the messages, newest first (subject, recipient, time); the selected one (`?id=`,
  else the newest) below, its text part as text and its HTML part in a sandboxed iframe (no
  scripts, no same-origin, no remote loads: the page's CSP says `default-src 'none'`).
- `GET /api/messages`: JSON, newest first, each `{id, to, subject, text, html, created_at}`.
- `GET /api/messages/{id}`: one of them (404 `{"error": "not_found"}` otherwise).

It reads moto's SES backend in the process that runs moto's server (the local cloud, or a
test), and parses each raw MIME message once, stamping it with the time it first saw it.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import message_from_string, policy
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
PORT = 8025
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@dataclass(frozen=True)
class MailboxMessage:
    id: str
    to: list[str]
    subject: str
    text: str
    html: str
    created_at: str  # ISO 8601, UTC


RawSource = Callable[[], Iterable[tuple[str, list[str], str]]]  # (id, destinations, raw MIME)


def moto_sent_messages(account_id: str = "123456789012", region: str = "us-east-1") -> RawSource:
    """What moto's SES (v1 and v2 share a backend) accepted, in sending order."""

    def read() -> list[tuple[str, list[str], str]]:
        from moto.ses.models import RawMessage, ses_backends

        backend = ses_backends[account_id][region]
        return [
            # moto adds the To header's addresses to the destinations it was given
            (message.id, list(dict.fromkeys(message.destinations)), message.raw_data)
            for message in backend.sent_messages
            if isinstance(message, RawMessage)
        ]

    return read


def parse(message_id: str, destinations: list[str], raw: str, seen: datetime) -> MailboxMessage:
    parsed = message_from_string(raw, policy=policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    try:
        created = parsedate_to_datetime(str(parsed["Date"])).astimezone(UTC)
    except (TypeError, ValueError):
        created = seen
    return MailboxMessage(
        id=message_id,
        to=destinations or [str(parsed["To"] or "")],
        subject=str(parsed["Subject"] or ""),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        created_at=created.isoformat().replace("+00:00", "Z"),
    )


class Mailbox:
    def __init__(self, source: RawSource) -> None:
        self._source = source
        self._parsed: dict[str, tuple[int, MailboxMessage]] = {}
        self._lock = threading.Lock()

    def messages(self) -> list[MailboxMessage]:
        """Newest first (by time, then by the order SES took them)."""
        with self._lock:
            for order, (message_id, destinations, raw) in enumerate(self._source()):
                if message_id not in self._parsed:
                    seen = datetime.now(UTC)
                    self._parsed[message_id] = (order, parse(message_id, destinations, raw, seen))
            ranked = sorted(
                self._parsed.values(), key=lambda item: (item[1].created_at, item[0]), reverse=True
            )
        return [message for _, message in ranked]

    def message(self, message_id: str) -> MailboxMessage | None:
        return next((m for m in self.messages() if m.id == message_id), None)


def page(messages: list[MailboxMessage], selected: MailboxMessage | None) -> str:
    rows = "\n".join(
        f'<tr class="message{" selected" if selected and m.id == selected.id else ""}" '
        f'data-id="{html.escape(m.id)}">'
        f'<td class="time"><time datetime="{html.escape(m.created_at)}">'
        f"{html.escape(m.created_at.replace('T', ' ').removesuffix('Z'))} UTC</time></td>"
        f'<td class="to">{html.escape(", ".join(m.to))}</td>'
        f'<td class="subject"><a href="/?id={html.escape(m.id)}">{html.escape(m.subject)}</a></td>'
        "</tr>"
        for m in messages
    )
    if selected is None:
        detail = '<p id="empty">No mail yet. Anything the mailer sends shows up here.</p>'
    else:
        detail = (
            f'<section id="message" data-id="{html.escape(selected.id)}">'
            f'<h2 class="subject">{html.escape(selected.subject)}</h2>'
            f'<p class="meta">To <span class="to">{html.escape(", ".join(selected.to))}</span>,'
            f" {html.escape(selected.created_at)}</p>"
            '<h3>Text</h3><pre id="text">' + html.escape(selected.text) + "</pre>"
            # sandbox with no allowances: no scripts, an opaque origin, no top navigation
            '<h3>HTML</h3><iframe id="html" sandbox="" referrerpolicy="no-referrer" '
            f'title="HTML part" srcdoc="{html.escape(selected.html, quote=True)}"></iframe>'
            "</section>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>authapi local mailbox</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #1f2328; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ text-align: left; padding: 6px 10px; border-bottom: 1px solid #d0d7de; }}
tr.selected {{ background: #ddf4ff; }}
pre {{ white-space: pre-wrap; background: #f6f8fa; padding: 12px; }}
iframe {{ width: 100%; height: 420px; border: 1px solid #d0d7de; }}
</style></head>
<body>
<h1>Local mailbox <small>({len(messages)} message{"" if len(messages) == 1 else "s"})</small></h1>
<table id="messages"><thead><tr><th>Time</th><th>To</th><th>Subject</th></tr></thead>
<tbody>
{rows}
</tbody></table>
{detail}
</body></html>
"""


class MailboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MailboxServer:
        threading.Thread(target=self.serve_forever, name="mailbox", daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    server: MailboxServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        mailbox = self.server.mailbox
        if url.path == "/api/messages":
            self._json(HTTPStatus.OK, [asdict(m) for m in mailbox.messages()])
        elif url.path.startswith("/api/messages/"):
            found = mailbox.message(url.path.removeprefix("/api/messages/"))
            if found is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
            else:
                self._json(HTTPStatus.OK, asdict(found))
        elif url.path == "/":
            messages = mailbox.messages()
            wanted = parse_qs(url.query).get("id", [None])[0]
            selected = next((m for m in messages if m.id == wanted), None) or (
                messages[0] if messages else None
            )
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", page(messages, selected).encode())
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})

    def _json(self, status: HTTPStatus, body: Any) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", PAGE_CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def serve_mailbox(source: RawSource, port: int = PORT) -> MailboxServer:
    return MailboxServer((HOST, port), Mailbox(source)).start()
