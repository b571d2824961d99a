"""The SMTP transport (SES's SMTP interface: how the mailer leaves a VPC without a NAT) against
a small SMTP server on a local port: what it sends, how SES's answers map to retry or give up."""

from __future__ import annotations

import base64
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from authapi.mailer.ses import SendFailure
from authapi.mailer.smtp import SesSmtpMailer, smtp_password

pytestmark = pytest.mark.unit


@dataclass
class Session:
    commands: list[str] = field(default_factory=list)
    data: bytes = b""
    answer_to_data: str = "250 Ok 0100018c-test-message-id-000000"
    answer_to_rcpt: str = "250 Ok"


class _Handler(socketserver.StreamRequestHandler):
    session: Session

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        session = self.server.session  # type: ignore[attr-defined]
        self.reply("220 email-smtp.test ESMTP")
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            session.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-email-smtp.test")
                self.reply("250 AUTH PLAIN LOGIN")
            elif verb == "AUTH":
                self.reply("235 Authentication successful.")
            elif verb == "MAIL":
                self.reply("250 Ok")
            elif verb == "RCPT":
                self.reply(session.answer_to_rcpt)
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    body += chunk
                session.data = body
                self.reply(session.answer_to_data)
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 Ok")


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Session]]:
    session = Session()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.session = session  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], session
    server.shutdown()
    server.server_close()


def mailer(port: int) -> SesSmtpMailer:
    return SesSmtpMailer(
        host="127.0.0.1",
        port=port,
        sender="authapi <no-reply@mail.test>",
        configuration_set="authapi-test",
        credentials=lambda: ("AKIAEXAMPLE", "smtp-password"),
        timeout_seconds=2,
        starttls=False,  # the test server has no certificate; SES's endpoint requires it
    )


RAW = b"From: no-reply@mail.test\r\nTo: ada@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


def test_it_authenticates_sends_through_the_configuration_set_and_returns_ses_s_id(
    smtp_server: tuple[int, Session],
) -> None:
    port, session = smtp_server
    message_id = mailer(port).send(to="ada@example.com", raw=RAW)
    assert message_id == "0100018c-test-message-id-000000"
    said = [command.upper() for command in session.commands]
    assert "MAIL FROM:<NO-REPLY@MAIL.TEST>" in said
    assert "RCPT TO:<ADA@EXAMPLE.COM>" in said
    plain = next(c for c in session.commands if c.startswith("AUTH"))
    assert base64.b64decode(plain.split()[-1]) == b"\0AKIAEXAMPLE\0smtp-password"
    assert session.data.startswith(b"X-SES-CONFIGURATION-SET: authapi-test\r\n")
    assert b"Subject: hi" in session.data


@pytest.mark.parametrize(
    ("answer", "permanent"),
    [("554 Message rejected: Email address is not verified.", True), ("454 Throttling", False)],
)
def test_ses_s_refusals_are_permanent_or_retried(
    smtp_server: tuple[int, Session], answer: str, permanent: bool
) -> None:
    port, session = smtp_server
    session.answer_to_data = answer
    with pytest.raises(SendFailure) as refused:
        mailer(port).send(to="ada@example.com", raw=RAW)
    assert refused.value.permanent is permanent


def test_an_unreachable_endpoint_is_transient() -> None:
    from devtools.local_stack import free_port

    with pytest.raises(SendFailure) as refused:
        mailer(free_port()).send(to="ada@example.com", raw=RAW)
    assert refused.value.permanent is False


def test_the_smtp_password_is_derived_per_region() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    first = smtp_password(secret, "us-east-1")
    assert first != smtp_password(secret, "eu-west-1")
    decoded = base64.b64decode(first)
    assert decoded[0] == 4  # SES's version byte, then an HMAC-SHA256
    assert len(decoded) == 33
