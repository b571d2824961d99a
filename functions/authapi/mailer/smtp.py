"""SES's SMTP interface: the mailer's way out of a VPC without a NAT (SES's API has no VPC
endpoint; its SMTP interface has, `com.amazonaws.<region>.email-smtp`).

The same raw MIME message as the API transport; the configuration set travels as SES's
`X-SES-CONFIGURATION-SET` header. SMTP takes no role credentials: an IAM user's access key id
and the SMTP password derived from its secret (`smtp_password`, AWS's documented derivation),
read from an SSM SecureString as `<access key id>:<SMTP password>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
from collections.abc import Callable

from authapi.mailer.ses import SendFailure

SMTP_PASSWORD_VERSION = b"\x04"


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SES SMTP password of an IAM user's secret access key, for one region."""

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    signature = sign(("AWS4" + secret_access_key).encode(), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        signature = sign(signature, part)
    return base64.b64encode(SMTP_PASSWORD_VERSION + signature).decode()


class SesSmtpMailer:
    """Sends raw MIME messages over SMTP submission (STARTTLS, then AUTH), one connection each."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        configuration_set: str | None,
        credentials: Callable[[], tuple[str, str]],
        timeout_seconds: float,
        starttls: bool = True,
    ):
        self._host = host
        self._port = port
        self._sender = sender
        self._configuration_set = configuration_set
        self._credentials = credentials
        self._timeout = timeout_seconds
        self._starttls = starttls

    def send(self, *, to: str, raw: bytes, sender: str | None = None) -> str:
        from email.utils import parseaddr

        if self._configuration_set:
            raw = f"X-SES-CONFIGURATION-SET: {self._configuration_set}\r\n".encode() + raw
        try:
            user, password = self._credentials()
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                smtp.login(user, password)
                code, reply = smtp.mail(parseaddr(sender or self._sender)[1])
                if code == 250:
                    code, reply = smtp.rcpt(to)
                if code in (250, 251):
                    # SES answers "250 Ok <its message id>" to the DATA
                    code, reply = smtp.data(raw)
        except smtplib.SMTPResponseException as error:
            # 5xx: refused as it is (554 Message rejected); 4xx (throttled, 454 ...): try again
            permanent = 500 <= error.smtp_code < 600 and error.smtp_code not in (535, 530)
            raise SendFailure(
                f"Smtp{error.smtp_code}", error.smtp_code, permanent=permanent
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise SendFailure(type(error).__name__, 0, permanent=False) from None
        if code != 250:
            raise SendFailure(f"Smtp{code}", code, permanent=500 <= code < 600)
        return reply.decode(errors="replace").removeprefix("Ok ").strip() or "smtp"

    def close(self) -> None:
        return None
