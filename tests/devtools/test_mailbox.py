"""The local mailbox (issue 13): its JSON API, what it reads from moto's SES, and its page in
Debian's Chromium (Selenium driving /usr/bin/chromium), with a screenshot kept as an artifact."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from authapi.config import Settings
from authapi.mailer.kinds import KINDS, MailJob
from authapi.mailer.render import render
from authapi.mailer.ses import SesMailer
from authapi.outbox.messages import LOCKOUT_NOTICE, TEST_MESSAGE
from devtools.local_stack import free_port
from devtools.mailbox import Mailbox, MailboxServer, moto_sent_messages
from devtools.tiers import require_tool
from tests.support.aws import AWS_ENVIRONMENT, REGION
from tests.support.mail import SENDER, MailStandIns

pytestmark = pytest.mark.unit

ARTIFACTS = Path(os.environ.get("AUTHAPI_TEST_ARTIFACTS", ".local/test-artifacts"))
START = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(
    environment="test",
    mail_from=SENDER,
    mail_product_name="Acme <Accounts>",  # escaped in HTML, as it is in text
    public_app_url="https://app.acme.test",
)


def rendered(kind: str, to: str, minutes: int) -> tuple[str, list[str], str]:
    job = MailJob(
        outbox_id=uuid.uuid4(),
        kind=kind,
        purpose=kind,
        account_id=uuid.uuid4(),
        email=to,
        now=START + timedelta(minutes=minutes),
        settings=SETTINGS,
    )
    mail = render(KINDS[kind], job, {})
    return (f"msg-{minutes}", [to], mail.raw.decode())


@pytest.fixture
def mailbox() -> Iterator[MailboxServer]:
    messages = [
        rendered(TEST_MESSAGE, "ada@example.com", 0),
        rendered(LOCKOUT_NOTICE, "grace@example.com", 5),
    ]
    server = MailboxServer(("127.0.0.1", free_port()), Mailbox(lambda: messages)).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_json_api_lists_newest_first_and_serves_each_message(mailbox: MailboxServer) -> None:
    listing = httpx.get(mailbox.url + "/api/messages").json()
    assert [m["to"] for m in listing] == [["grace@example.com"], ["ada@example.com"]]
    assert set(listing[0]) == {"id", "to", "subject", "text", "html", "created_at"}
    newest = listing[0]
    assert newest["subject"] == "Acme <Accounts>: sign-in paused after failed attempts"
    assert newest["created_at"] == "2030-06-01T12:05:00Z"
    assert "grace@example.com" in newest["text"]
    assert "Acme &lt;Accounts&gt;" in newest["html"]  # autoescaped, never markup
    one = httpx.get(f"{mailbox.url}/api/messages/{newest['id']}")
    assert one.status_code == 200
    assert one.json() == newest
    missing = httpx.get(mailbox.url + "/api/messages/nope")
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})


def test_it_reads_what_moto_s_ses_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_ins = MailStandIns()
    try:
        stand_ins.reset()
        for name, value in AWS_ENVIRONMENT.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", stand_ins.url)
        _, _, raw = rendered(TEST_MESSAGE, "ada@example.com", 0)
        SesMailer(sender=SENDER, configuration_set=None, region=REGION, timeout_seconds=2).send(
            to="ada@example.com", raw=raw.encode()
        )
        (message,) = Mailbox(moto_sent_messages()).messages()
        assert message.to == ["ada@example.com"]
        assert message.subject == "Acme <Accounts>: test message"
        assert message.html.lstrip().startswith("<!doctype html>")
    finally:
        stand_ins.close()


def test_the_page_in_chromium(mailbox: MailboxServer) -> None:
    chromium = require_tool("chromium", "make chromium-install (Debian's chromium package)")
    driver_path = require_tool("chromedriver", "make chromium-install (chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(mailbox.url + "/")
        rows = driver.find_elements(By.CSS_SELECTOR, "#messages tbody tr.message")
        assert [row.find_element(By.CSS_SELECTOR, ".to").text for row in rows] == [
            "grace@example.com",
            "ada@example.com",
        ]
        assert rows[0].find_element(By.CSS_SELECTOR, ".subject").text == (
            "Acme <Accounts>: sign-in paused after failed attempts"
        )
        assert "2030-06-01 12:05:00 UTC" in rows[0].find_element(By.CSS_SELECTOR, ".time").text
        # the newest is shown: its text part as text, its HTML part in a sandboxed iframe
        assert "grace@example.com" in driver.find_element(By.ID, "text").text
        frame = driver.find_element(By.ID, "html")
        assert frame.get_attribute("sandbox") == ""
        driver.switch_to.frame(frame)
        assert driver.find_element(By.TAG_NAME, "h1").text == "Acme <Accounts>"
        assert driver.find_element(By.TAG_NAME, "strong").text == "grace@example.com"
        assert driver.find_elements(By.TAG_NAME, "img") == []  # no tracking pixel
        driver.switch_to.default_content()
        # another message, by its link
        rows[1].find_element(By.CSS_SELECTOR, ".subject a").click()
        assert driver.find_element(By.CSS_SELECTOR, "#message .subject").text == (
            "Acme <Accounts>: test message"
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "mailbox.png"
        driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000  # a page was painted, not a blank
    finally:
        driver.quit()
