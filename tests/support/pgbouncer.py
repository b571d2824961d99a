"""PgBouncer in transaction-pooling mode: RDS Proxy's multiplexing, on a laptop.

Each transaction may run on a different server connection, and a few server connections serve
many clients; anything the app left in a server session (a prepared statement, a SET) would
surface as errors here. `make pgbouncer-install` (mk/faults.mk) installs the Debian package.
`AUTHAPI_TEST_VIA_PGBOUNCER=1` makes the session's `test_database` fixture hand out a URL through
one (`make test-pgbouncer`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from devtools.tiers import find_tool

VIA_PGBOUNCER = "AUTHAPI_TEST_VIA_PGBOUNCER"
_INI = """\
[databases]
* = host={upstream_host} port={upstream_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {auth_file}
pool_mode = transaction
default_pool_size = {pool_size}
reserve_pool_size = 0
max_client_conn = 1000
server_reset_query =
logfile =
pidfile =
log_connections = 0
log_disconnections = 0
; safety nets: a client waiting this long for a server connection gets an error, not a hang
query_wait_timeout = 30
server_connect_timeout = 5
"""


def pgbouncer_binary() -> str | None:
    return find_tool("pgbouncer")  # where the tier rule looks (PATH and /usr/sbin)


def via_pgbouncer_requested() -> bool:
    return os.environ.get(VIA_PGBOUNCER, "") not in ("", "0")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10  # a safety net: it listens within milliseconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited at start:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"pgbouncer is not listening on {port}:\n{log.read_text()}")


@contextmanager
def running_pgbouncer(url: str, *, pool_size: int = 2) -> Iterator[str]:
    """Start PgBouncer in front of the database of `url`; yield the same database through it.

    `url` is a SQLAlchemy URL, over a unix socket (`?host=/dir`) or TCP. Clients are trusted;
    PgBouncer logs in to the server as the URL's user, with its password if it has one.
    """
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed: run `make pgbouncer-install`")
    target = make_url(url)
    socket_dir = target.query.get("host")
    upstream_host = str(socket_dir) if socket_dir else target.host or "127.0.0.1"
    user = target.username or "postgres"
    workdir = Path(tempfile.mkdtemp(prefix="authapi-pgbouncer-"))
    port = _free_port()
    try:
        auth_file = workdir / "users.txt"
        auth_file.write_text(f'"{user}" "{target.password or ""}"\n')
        ini = workdir / "pgbouncer.ini"
        ini.write_text(
            _INI.format(
                upstream_host=upstream_host,
                upstream_port=target.port or 5432,
                port=port,
                auth_file=auth_file,
                pool_size=pool_size,
            )
        )
        command = [binary, str(ini)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: run it as whoever owns the server's socket folder
            owner = Path(upstream_host).owner() if upstream_host.startswith("/") else "nobody"
            command[1:1] = ["-u", owner]
            for path in (workdir, auth_file, ini):
                path.chmod(0o755 if path.is_dir() else 0o644)
        log = workdir / "pgbouncer.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_until_listening(port, process, log)
            query = {key: value for key, value in target.query.items() if key != "host"}
            yield target.set(host="127.0.0.1", port=port, query=query).render_as_string(
                hide_password=False
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def through_pgbouncer_if_requested(url: str) -> Iterator[str]:
    """`url` itself, or the same database through PgBouncer when AUTHAPI_TEST_VIA_PGBOUNCER=1."""
    if not via_pgbouncer_requested():
        yield url
        return
    with running_pgbouncer(url) as pooled_url:
        yield pooled_url
