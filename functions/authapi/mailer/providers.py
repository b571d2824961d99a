"""The mail provider the settings choose: SES's API, or its SMTP interface (README says why)."""

from __future__ import annotations

from authapi.config import Settings
from authapi.mailer.ses import SendFailure, SesMailer
from authapi.mailer.smtp import SesSmtpMailer


def smtp_credentials(settings: Settings) -> tuple[str, str]:
    """`<access key id>:<SMTP password>` from the SSM SecureString the settings name."""
    from authapi.signing.ssm_api import SsmParameters

    name = settings.mail_smtp_credentials_parameter
    if name is None:
        raise SendFailure("NoSmtpCredentials", 0, permanent=False)
    parameters = SsmParameters(
        region=settings.aws_region, connect_timeout=2, read_timeout=3, max_attempts=2
    )
    try:
        value = parameters.get([name])[name]
    finally:
        parameters.close()
    user, _, password = value.partition(":")
    return user, password


def provider_for(settings: Settings) -> SesMailer | SesSmtpMailer:
    if settings.mail_transport == "ses-smtp":
        if settings.mail_smtp_host is None:
            raise ValueError("AUTHAPI_MAIL_TRANSPORT=ses-smtp needs AUTHAPI_MAIL_SMTP_HOST")
        cached: list[tuple[str, str]] = []

        def credentials() -> tuple[str, str]:
            # read once per execution environment; a failure is transient (the message waits)
            if not cached:
                cached.append(smtp_credentials(settings))
            return cached[0]

        return SesSmtpMailer(
            host=settings.mail_smtp_host,
            port=settings.mail_smtp_port,
            sender=settings.mail_from,
            configuration_set=settings.mail_configuration_set,
            credentials=credentials,
            timeout_seconds=settings.mail_send_timeout_seconds,
        )
    return SesMailer(
        sender=settings.mail_from,
        configuration_set=settings.mail_configuration_set,
        region=settings.aws_region,
        timeout_seconds=settings.mail_send_timeout_seconds,
    )
