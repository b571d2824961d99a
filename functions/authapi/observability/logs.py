"""Structured logging through Powertools Logger: JSON lines in AWS, a readable line on a laptop.

Every record, from our modules or from libraries (uvicorn, SQLAlchemy, botocore), goes through one
handler whose formatter adds the current request id and masks secrets before anything is written.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from authapi.config import Settings
from authapi.observability.redaction import redact
from authapi.observability.request_context import current_request_id

LOGGER_NAME = "authapi"  # the package name: `logging.getLogger(__name__)` in any module is a child

_CONSOLE_FIXED_KEYS = frozenset({"level", "location", "message", "timestamp", "service", "logger"})
_CONSOLE_EXCEPTION_KEYS = frozenset({"exception", "exception_name", "stack_trace"})
# uvicorn repeats each message with ANSI colours in `color_message`, and Python 3.12+ stamps
# every record with its asyncio `taskName`: noise in any log store
_NOISE_KEYS = frozenset({"color_message", "taskName"})


# Line breaks and other controls a client can put in a path, a header or an email: in a line-based
# format they would start a forged log line. JSON escapes them itself.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# What a JSON text can start with (after JSON's own whitespace): Powertools decodes a message that
# is JSON; any other message is left as it is without trying, which costs a raised error per line
_JSON_FIRST_CHARACTERS = frozenset('{["-0123456789tfnNI')


def _escaped(value: object) -> str:
    return _CONTROL_CHARACTERS.sub(lambda match: repr(match.group())[1:-1], str(value))


def _prepared(log: LogRecord) -> dict[str, Any]:
    return {key: value for key, value in redact(log).items() if key not in _NOISE_KEYS}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class RedactingJsonFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON line, with secrets masked in every key and value."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(utc=True, use_rfc3339=True, **kwargs)

    def serialize(self, log: LogRecord) -> str:
        return super().serialize(_prepared(log))

    def format(self, record: logging.LogRecord) -> str:
        record.logger = record.name
        return super().format(record)

    def _extract_log_message(self, log_record: logging.LogRecord) -> Any:
        message = log_record.msg
        if (
            isinstance(message, str)
            and not log_record.args
            and message.lstrip()[:1] not in _JSON_FIRST_CHARACTERS
        ):
            return message
        return super()._extract_log_message(log_record)


class RedactingConsoleFormatter(RedactingJsonFormatter):
    """One readable line per record for development: time, level, logger, message, key=value."""

    def serialize(self, log: LogRecord) -> str:
        log = _prepared(log)
        timestamp = str(log.get("timestamp", ""))[11:23]
        extras = " ".join(
            f"{_escaped(key)}={_escaped(value)}"
            for key, value in log.items()
            if key not in _CONSOLE_FIXED_KEYS and key not in _CONSOLE_EXCEPTION_KEYS
        )
        level, name, message = log.get("level", ""), log.get("logger", ""), log.get("message", "")
        line = f"{timestamp} {level:<7} [{_escaped(name)}] {_escaped(message)}"
        if extras:
            line += f"  {extras}"
        if "exception" in log:
            line += "\n" + str(log["exception"])
        return line


class _CurrentStdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stdout` is now, so output redirection (and pytest capture) works."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_configured: Logger | None = None


def configure_logging(settings: Settings) -> Logger:
    """Install the one handler on our logger and the root logger. Idempotent per process."""
    global _configured
    if _configured is not None:
        return _configured

    formatter: LambdaPowertoolsFormatter
    if settings.effective_log_format == "console":
        formatter = RedactingConsoleFormatter()
    else:
        formatter = RedactingJsonFormatter()
    handler = _CurrentStdoutHandler()
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())

    # Powertools owns the "authapi" logger: Lambda context keys and the correlation id it appends
    # land in our shared formatter, hence in every line, including library lines through root.
    powertools_logger = Logger(
        service=LOGGER_NAME,
        level=settings.log_level,
        logger_handler=handler,
        logger_formatter=formatter,
    )
    app_logger = logging.getLogger(LOGGER_NAME)
    app_logger.propagate = False

    root = logging.getLogger()
    for existing in list(root.handlers):
        # the Lambda runtime installs its own plain-text handler; one format, one redactor
        if type(existing).__name__.startswith("LambdaLogger"):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)

    _configured = powertools_logger
    return powertools_logger
