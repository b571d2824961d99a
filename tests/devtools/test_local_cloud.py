"""`make run`'s local cloud, as users run it: real clients, at once, like Lambda serves them."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from devtools.api_gateway import PAYLOAD_QUOTA_BYTES
from devtools.local_cloud import (
    DEPLOY_HOOK,
    HTTP,
    HTTP_ROUTE,
    QUEUE,
    SCHEDULE,
    template_functions,
)
from devtools.tiers import require_tool
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.db import ScratchDatabase
from tests.support.http import Reply, SyncApiClient
from tests.support.local_cloud import (
    GATEWAY_ERROR,
    REPO,
    LocalCloud,
    kill_and_wait,
    parse_responses,
    running,
)

pytestmark = pytest.mark.integration

HEALTHY = {"status": "ok", "database": "ok"}


@pytest.fixture(scope="module")
def throttling_cloud(test_database: ScratchDatabase) -> Iterator[LocalCloud]:
    """A local cloud with Lambda's own behaviour past 4 environments (no queue: throttled at
    once). Started here but not awaited: it boots while the module's first tests run."""
    cloud = LocalCloud.start(test_database, "--concurrency", "4", "--queue-timeout", "0")
    yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def local_cloud(
    test_database: ScratchDatabase, throttling_cloud: LocalCloud
) -> Iterator[LocalCloud]:
    """The module's local cloud (started after `throttling_cloud`, so that both boot at once).
    Requests past its 4 environments wait (up to 10 s) for one; the scheduler's stand-in runs
    every second instead of every minute, so a test can watch it."""
    cloud = LocalCloud.start(
        test_database, "--concurrency", "4", "--queue-timeout", "10", "--maintenance-every", "1"
    )
    yield cloud.wait_until_healthy()
    assert cloud.stop() == 0, cloud.output()[-3000:]


def correct_answer(path: str, reply: Reply) -> bool:
    if path == "/health":
        return reply.status == 200 and reply.body == HEALTHY
    return reply.status == 200 and bool(reply.body["keys"])  # the JWKS


def burst(base_url: str, count: int) -> list[tuple[str, Reply]]:
    """`count` requests released at the same instant, each on its own connection, half of them
    for /health and half for the JWKS (so that a crossed answer would show)."""
    paths = ["/health", "/.well-known/jwks.json"] * (count // 2)
    start = threading.Barrier(len(paths))
    # a request may wait for a cold start, and four environments starting at once on a busy
    # 2-core machine can each take longer than the client's usual 10 s
    with SyncApiClient.http(base_url, timeout=60) as api:

        def call(path: str) -> tuple[str, Reply]:
            start.wait()
            return path, api.get(path)

        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            return list(pool.map(call, paths))


def test_every_function_of_the_template_runs_in_the_local_cloud() -> None:
    functions, missing = template_functions()
    assert missing == [], "give these functions' triggers a stand-in in devtools/local_cloud.py"
    triggers = {function.logical_id: function.trigger for function in functions}
    assert triggers == {
        "ApiFunction": HTTP,
        "MigrateFunction": DEPLOY_HOOK,
        "MaintenanceFunction": SCHEDULE,
        "WhoAmIFunction": HTTP_ROUTE,
        "MailerFunction": QUEUE,
    }
    (whoami,) = (function for function in functions if function.trigger == HTTP_ROUTE)
    assert whoami.route == ("GET", "/api/v1/examples/whoami")
    assert whoami.jwt_configuration is not None


def test_the_example_resource_server_sits_behind_the_jwt_authorizer(
    local_cloud: LocalCloud,
) -> None:
    whoami = "/api/v1/examples/whoami"
    email = unique_email()
    with httpx.Client(base_url=local_cloud.base_url, timeout=10) as client:
        signed_in = client.post(
            "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD}
        ).json()
        token = signed_in["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        refused = [
            client.get(whoami),
            client.get(whoami, headers={"Authorization": "Bearer not-a-jwt"}),
            client.get(whoami, headers={"Authorization": f"Bearer {token[:-4]}AAAA"}),
        ]
        answered = client.get(whoami, headers=bearer)
        client.post("/api/v1/auth/logout", headers=bearer)
        after_logout = client.get(whoami, headers=bearer)
        me_after_logout = client.get("/api/v1/auth/me", headers=bearer)

    for reply in refused:  # API Gateway's own answer: the function never ran
        assert (reply.status_code, reply.json()) == (401, {"message": "Unauthorized"})
    assert answered.status_code == 200
    claims = answered.json()["claims"]
    assert answered.json()["sub"] == claims["sub"] == signed_in["user"]["id"]
    # as API Gateway passes them: every value a string
    assert claims["iss"] == "authapi"
    assert claims["exp"].isdigit()
    # the limit of gateway-only checks (README, "Resource servers"): a logged-out session's
    # token still passes until it expires; /me sees the logout at once
    assert after_logout.status_code == 200
    assert me_after_logout.status_code == 401
    assert re.search(r"START RequestId: \S+\tFunction: WhoAmIFunction", local_cloud.output())


def test_a_session_through_the_local_cloud(local_cloud: LocalCloud) -> None:
    email = unique_email()
    with httpx.Client(base_url=local_cloud.base_url, timeout=10) as client:
        registered = client.post(
            "/api/auth/register", json={"email": email, "password": STRONG_PASSWORD}
        )
        assert registered.status_code == 201
        # the API Gateway stand-in's request id reaches the client, as in AWS
        assert registered.headers["x-request-id"].endswith("=")
        form = client.post("/api/auth/login", data={"username": email, "password": STRONG_PASSWORD})
        assert form.status_code == 200
        tokens = form.json()
        me = client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["email"] == email
        refreshed = client.post(
            "/api/auth/refresh-token", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        # the OAuth endpoints: found through RFC 8414, served by the same handler
        metadata = client.get("/.well-known/oauth-authorization-server").json()
        oauth = client.post(
            urlsplit(metadata["token_endpoint"]).path,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refreshed.json()["refresh_token"],
                "client_id": "default",
            },
        )
        assert oauth.status_code == 200, oauth.text
        assert oauth.headers["pragma"] == "no-cache"
        logout = client.post(
            "/api/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert logout.status_code == 204
        assert client.get("/docs").status_code == 200


def test_errors_come_back_as_problems(local_cloud: LocalCloud) -> None:
    response = httpx.post(
        local_cloud.base_url + "/api/auth/login",
        content=b"{oops",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_local_cloud_runs_the_maintenance_function_on_a_schedule(
    local_cloud: LocalCloud, test_database: ScratchDatabase
) -> None:
    key = uuid.uuid4().hex * 2  # the size of a real bucket key
    # a bucket whose window ended long ago: the next run deletes it
    await test_database.execute(
        "INSERT INTO rate_limit_buckets (key, window_start, hits) VALUES ($1, $2, 1)",
        key,
        datetime(2020, 1, 1, tzinfo=UTC),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = await test_database.fetchval(
            "SELECT count(*) FROM rate_limit_buckets WHERE key = $1", key
        )
        if left == 0:
            break
        await asyncio.sleep(0.2)
    assert left == 0, "no maintenance run deleted the ended bucket"
    # in its own execution environment, with its own function's context
    assert local_cloud.environments("MaintenanceFunction")
    assert '"function_name":"authapi-local-MaintenanceFunction"' in local_cloud.output()


def test_two_keep_alive_clients_interleave(local_cloud: LocalCloud) -> None:
    clients = [http.client.HTTPConnection("127.0.0.1", local_cloud.port, timeout=10) for _ in "ab"]
    try:
        ports: list[set[int]] = [set(), set()]
        for _ in range(3):
            for client, used in zip(clients, ports, strict=True):
                client.request("GET", "/health")
                response = client.getresponse()
                assert response.status == 200
                assert json.loads(response.read()) == HEALTHY
                assert client.sock is not None
                used.add(client.sock.getsockname()[1])
        # each client kept its one connection open throughout, and neither waited for the other
        assert [len(used) for used in ports] == [1, 1]
    finally:
        for client in clients:
            client.close()


def test_pipelined_requests_are_answered_in_order_and_close_is_honoured(
    local_cloud: LocalCloud,
) -> None:
    requests = (
        b"GET /docs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"HEAD /docs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", local_cloud.port), timeout=10) as raw:
        raw.sendall(requests)  # all three at once, before any answer
        received = b"".join(iter(lambda: raw.recv(65536), b""))  # until the server closes
    docs, head, health = parse_responses(received, ["GET", "HEAD", "GET"])
    assert docs.status == 200
    assert b"swagger" in docs.body
    # HEAD: the same answer without its body
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == str(len(docs.body))
    assert (health.status, json.loads(health.body)) == (200, HEALTHY)


def test_chunked_bodies_are_read(local_cloud: LocalCloud) -> None:
    client = http.client.HTTPConnection("127.0.0.1", local_cloud.port, timeout=10)
    try:
        body = [b'{"email": "', unique_email().encode(), b'", "password": "not the one"}']
        client.request(
            "POST",
            "/api/auth/login",
            body=iter(body),
            headers={"content-type": "application/json"},
            encode_chunked=True,
        )
        response = client.getresponse()
        # the whole body reached the handler: a login refused for its credentials, no 422
        assert response.status == 401
        assert json.loads(response.read())["code"] == "invalid_credentials"
    finally:
        client.close()


def test_bodies_above_the_payload_quota_get_413(local_cloud: LocalCloud) -> None:
    too_large = {"message": "Request Entity Too Large"}
    # declared: refused before any of it is sent
    with socket.create_connection(("127.0.0.1", local_cloud.port), timeout=10) as raw:
        raw.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {PAYLOAD_QUOTA_BYTES + 1}\r\n\r\n".encode()
        )
        received = b"".join(iter(lambda: raw.recv(65536), b""))
    (declared,) = parse_responses(received, ["POST"])
    assert (declared.status, json.loads(declared.body)) == (413, too_large)
    assert declared.headers["connection"] == "close"
    # chunked: refused once the chunks pass the quota
    megabyte = b"x" * (1024 * 1024)
    client = http.client.HTTPConnection("127.0.0.1", local_cloud.port, timeout=10)
    try:
        client.request(
            "POST",
            "/api/auth/login",
            body=iter([megabyte] * (PAYLOAD_QUOTA_BYTES // len(megabyte) + 1)),
            headers={"content-type": "application/json"},
            encode_chunked=True,
        )
        chunked = client.getresponse()
        assert (chunked.status, json.loads(chunked.read())) == (413, too_large)
    finally:
        client.close()


def test_requests_past_the_environments_wait_for_one_with_a_queue_timeout(
    local_cloud: LocalCloud,
) -> None:
    mark = local_cloud.mark()
    answers = burst(local_cloud.base_url, 50)
    wrong = [(path, reply.status, reply.content[:80]) for path, reply in answers]
    assert all(correct_answer(path, reply) for path, reply in answers), wrong
    assert "THROTTLED" not in "\n".join(local_cloud.lines[mark:])
    live = [pid for pid in local_cloud.environments().values() if running(pid)]
    assert len(live) <= 4


@pytest.fixture
def single_environment_cloud(test_database: ScratchDatabase) -> Iterator[LocalCloud]:
    """A local cloud of one execution environment. The module's cloud can have one more than a
    test sees: a request another test abandoned may still be starting one (its INIT_START line
    comes once its init is over), and that warm environment, never frozen nor killed, would
    take the request the crash test expects a new environment to serve (seen in CI)."""
    cloud = LocalCloud.start(test_database, "--concurrency", "1", "--queue-timeout", "10")
    yield cloud.wait_until_healthy()
    assert cloud.stop() == 0, cloud.output()[-3000:]


def test_a_crashed_environment_is_replaced_and_its_request_gets_502(
    single_environment_cloud: LocalCloud,
) -> None:
    local_cloud = single_environment_cloud
    with SyncApiClient.http(local_cloud.base_url) as api:
        assert api.get("/health").status == 200  # at least one warm environment
        for _ in range(3):
            live = {n: pid for n, pid in local_cloud.environments().items() if running(pid)}
            # frozen: the next request is still in one of them when they crash
            for pid in live.values():
                os.kill(pid, signal.SIGSTOP)
            mark = local_cloud.mark()
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(api.get, "/health")
                start = local_cloud.wait_for(
                    r"^START RequestId: .*\tFunction: ApiFunction\tEnvironment: (\d+)\t", after=mark
                )
                if int(start[1]) not in live:
                    # an environment that started after the listing took it (a busy machine):
                    # thaw the others and try again
                    for pid in live.values():
                        os.kill(pid, signal.SIGCONT)
                    pending.result(timeout=20)
                    continue
                for pid in live.values():
                    kill_and_wait(pid)
                crashed = pending.result(timeout=20)
            break
        else:
            raise AssertionError("no request reached a frozen environment in 3 tries")
        # a function that failed: API Gateway's 502, and the crash in the function's log
        assert (crashed.status, crashed.body) == (502, GATEWAY_ERROR)
        local_cloud.wait_for(r"Runtime exited with error: signal 9", after=mark)
        # the next request gets a new environment, which starts cold
        assert api.get("/health").body == HEALTHY
    report = local_cloud.wait_for(
        r"^REPORT RequestId: \S+\tFunction: ApiFunction\tEnvironment: (\d+)\t.*Init Duration",
        after=mark,
    )
    assert int(report[1]) not in live


def test_the_readme_walkthrough_passes_while_another_client_holds_a_connection(
    local_cloud: LocalCloud,
) -> None:
    curl = require_tool("curl", "the README's walkthrough uses it: apt-get install curl")
    bash = require_tool("bash", "the README's walkthrough is a bash session")
    readme = (REPO / "README.md").read_text()
    walkthrough = re.search(r"## Try it\n.*?```sh\n(.*?)```", readme, re.DOTALL)
    assert walkthrough, "README.md has no walkthrough under '## Try it'"
    email = unique_email()
    script = (
        walkthrough[1]
        .replace("api=http://127.0.0.1:8000", f"api={local_cloud.base_url}")
        .replace("ada@example.com", email)
        .replace("curl ", f"{curl} --max-time 10 ")
    )
    # a browser on /docs, its connection kept open, and a slow client halfway through a request
    browser = http.client.HTTPConnection("127.0.0.1", local_cloud.port, timeout=10)
    slow = socket.create_connection(("127.0.0.1", local_cloud.port), timeout=10)
    try:
        browser.request("GET", "/docs")
        assert browser.getresponse().read()
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        ran = subprocess.run(
            [bash, "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        out = ran.stdout
        assert out.count(f'"email":"{email}"') >= 2  # registered, then /me
        assert "HTTP/1.1 204" in out  # logout
        assert '"status":401' in out.splitlines()[-1]  # /me after logout
        # the two held connections still work
        slow.sendall(b"\r\n")
        late = http.client.HTTPResponse(slow)
        late.begin()
        assert json.loads(late.read()) == HEALTHY
        browser.request("GET", "/health")
        assert json.loads(browser.getresponse().read()) == HEALTHY
    finally:
        browser.close()
        slow.close()


def test_past_the_concurrency_limit_requests_are_throttled_at_once(
    throttling_cloud: LocalCloud,
) -> None:
    cloud = throttling_cloud.wait_until_listening()  # no environment yet: all 4 start cold
    try:
        answers = burst(cloud.base_url, 50)
    finally:
        status = cloud.stop()
    throttled = [reply for _, reply in answers if reply.status == 500]
    # each answer is either the right one or API Gateway's answer to a throttled invocation
    assert all(
        correct_answer(path, reply) or (reply.status, reply.body) == (500, GATEWAY_ERROR)
        for path, reply in answers
    ), [(path, reply.status, reply.content[:80]) for path, reply in answers]
    assert throttled, "50 requests at once on 4 environments: some must be throttled"
    assert len(throttled) < len(answers)
    assert status == 0, cloud.output()[-3000:]
    summary = cloud.wait_for(r"^SUMMARY Function: ApiFunction\t.*\t(\d+) throttled \(500\)")
    assert int(summary[1]) == len(throttled)
    # Ctrl-C left nothing behind: no execution environment, no SSM stand-in
    functions = ("ApiFunction", "MigrateFunction", "MaintenanceFunction")
    started = [pid for function in functions for pid in cloud.environments(function).values()]
    assert len(cloud.environments()) <= 4
    assert not [pid for pid in started if running(pid)]
    ssm = cloud.wait_for(r"SSM stand-in \(moto\) on http://127\.0\.0\.1:(\d+)")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(ssm[1])), timeout=2).close()


async def test_mail_goes_outbox_queue_mailer_mailbox_in_the_local_cloud(
    local_cloud: LocalCloud, test_database: ScratchDatabase
) -> None:
    """Issue 13: an outbox row nobody handed over is re-queued by the scheduled maintenance
    run, the SQS poller invokes the MailerFunction with a batch, it sends through moto's SES v2,
    and the local mailbox shows it (page and JSON)."""
    with SyncApiClient.http(local_cloud.base_url) as api:
        email = unique_email()
        reply = api.post(
            "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD}
        )
        assert reply.status == 201
        user_id = uuid.UUID(reply.body["user"]["id"])
    outbox_id = uuid.uuid4()
    await test_database.execute(
        "INSERT INTO mail_outbox (id, kind, purpose, account_id, created_at)"
        " VALUES ($1, 'test_message', 'test_message', $2, $3)",
        outbox_id,
        user_id,
        datetime.now(UTC) - timedelta(hours=1),  # long past the re-queue delay
    )
    mailbox = local_cloud.wait_for(r"local mailbox: (http://\S+) ").group(1)
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=mailbox, timeout=5) as reader:
        while time.monotonic() < deadline and not found:
            messages = (await reader.get("/api/messages")).json()
            # registering sent its verification too: the test message is the one here
            found = [m for m in messages if m["to"] == [email] and "test message" in m["subject"]]
            if not found:
                await asyncio.sleep(0.3)
        page = await reader.get("/")
    assert found, "the mailer sent nothing:\n" + local_cloud.output()[-3000:]
    (message,) = found
    assert message["subject"] == "authapi: test message"
    assert email in message["text"]
    assert email in message["html"]
    assert (
        await test_database.fetchval("SELECT status FROM mail_outbox WHERE id = $1", outbox_id)
        == "sent"
    )
    assert "authapi: test message" in page.text
    assert local_cloud.environments("MailerFunction")


@pytest.mark.head_schema
async def test_the_maintenance_run_publishes_audit_events_on_the_local_bus(
    local_cloud: LocalCloud, test_database: ScratchDatabase
) -> None:
    """Issue 17: an event waiting in the outbox goes to EventBridge's stand-in (moto), whose
    rule copies it to a queue; its outbox row is gone."""
    import boto3

    event_id = uuid.uuid4()
    await test_database.execute(
        "WITH event AS (INSERT INTO audit_events (id, occurred_at, type, actor_kind)"
        " VALUES ($1, $2, 'logout', 'user') RETURNING id)"
        " INSERT INTO event_outbox (event_id, created_at) SELECT id, $2 FROM event",
        event_id,
        datetime.now(UTC),
    )
    endpoint = local_cloud.wait_for(r"SSM stand-in \(moto\) on (http://\S+);").group(1)
    queue_url = local_cloud.wait_for(r"every event copied to (\S+)").group(1)
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        bodies = [json.loads(message["Body"]) for message in messages]
        found = [body for body in bodies if body["detail"]["id"] == str(event_id)]
        if not found:
            await asyncio.sleep(0.3)
    assert found, "no event reached the local bus:\n" + local_cloud.output()[-3000:]
    (event,) = found
    assert (event["source"], event["detail-type"]) == ("authapi", "logout")
    waiting = await test_database.fetchval(
        "SELECT count(*) FROM event_outbox WHERE event_id = $1", event_id
    )
    assert waiting == 0
