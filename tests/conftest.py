"""Shared fixtures: a real S3 protocol server (moto_server) on loopback, platform replay
servers, and config files written the way a user writes them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from archiver.replay import ReplayServer

# Tests never touch real AWS: fixed fake credentials, and no proxy for loopback.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost",
})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """``moto_server`` in its own process, so tests can stop and restart it."""

    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        exe = Path(sys.executable).with_name("moto_server")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
        self.proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint)


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(moto_server):
    """A fresh bucket with Object Lock enabled; returns (storage url, endpoint, client)."""
    client = moto_server.client()
    name = f"archive-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return f"s3://{name}/records", moto_server.endpoint, client


@pytest.fixture
def replay():
    with ReplayServer() as server:
        yield server


FAST_COLLECT = """
[collect]
retry_delay = 0.0
max_backoff = 0.01
"""


def write_config(path: Path, accounts: list[dict], *, storage: str | None = None,
                 endpoint: str | None = None, extra: str = "", index: bool = True) -> Path:
    """Write an archiver.toml (with fast backoff for tests) and return its path; with ``index``,
    create its index too, as `archiver init` does (commands refuse a missing one)."""
    data = path / "data"
    lines = [
        "[archive]",
        'agency = "Oak Creek Police Department"',
        'timezone = "America/Chicago"',
        "",
        "[storage]",
        f'url = "{storage or data / "store"}"',
    ]
    if endpoint:
        lines.append(f'endpoint_url = "{endpoint}"')
    lines += ["", "[index]", f'path = "{data / "index.db"}"', FAST_COLLECT, extra]
    for acct in accounts:
        lines.append("[[accounts]]")
        for key, value in acct.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    cfg = path / "archiver.toml"
    cfg.write_text("\n".join(lines), encoding="utf-8")
    if index:
        from archiver.index import open_index

        open_index(data / "index.db").conn.close()
    return cfg


@pytest.fixture
def make_config(tmp_path):
    def make(accounts, **kw):
        return write_config(tmp_path, accounts, **kw)
    return make


class CollectorRun:
    """One ``collector.collect(ctx)`` driven through a real ``archiver.http.Fetcher`` whose
    recorder keeps every (already scrubbed) exchange, as the WARC writer would receive it."""

    def __init__(self, collector, ctx, exchanges, sleeps):
        self.collector, self.ctx, self.exchanges, self.sleeps = collector, ctx, exchanges, sleeps
        self.events: list = []
        self.error: Exception | None = None

    def run(self) -> "CollectorRun":
        from archiver.errors import CollectError

        try:
            for event in self.collector.collect(self.ctx):
                self.events.append(event)
        except CollectError as exc:  # the pipeline fails the account; the test inspects it
            self.error = exc
        return self

    def of(self, kind: str) -> list:
        return [e for e in self.events if type(e).__name__ == kind]

    @property
    def items(self) -> dict:
        """platform_id -> Item of every Observed event (the last observation wins)."""
        return {e.item.platform_id: e.item for e in self.of("Observed")}

    def confirm_gone(self, item) -> bool:
        from archiver.collectors.base import KnownItem

        return self.collector.confirm_gone(self.ctx, KnownItem(item.platform_id, item.kind, item.root, item.parent))

    def written(self) -> bytes:
        """Every byte the recorder was handed: URLs, both header sets, bodies."""
        out = []
        for ex in self.exchanges:
            out.append(ex["url"].encode())
            for k, v in ex["request_headers"] + ex["response_headers"]:
                out.append(f"{k}: {v}".encode())
            out.append(ex["body"])
        return b"\n".join(out)


@pytest.fixture
def collector_run():
    """``collector_run(platform, account_id, api_base, token, **ctx)`` → a finished CollectorRun.

    ``token`` goes to the collector exactly as the pipeline hands it over; keyword arguments:
    ``now``, ``since``, ``page_limit``, ``checkpoint``, ``options`` (account options)."""
    from datetime import datetime, timezone

    from archiver.collectors import collector_class
    from archiver.collectors.base import CollectContext
    from archiver.config import AccountConfig
    from archiver.http import Fetcher

    def run(platform, account_id, api_base, token, *, now=None, since=None, page_limit=100,
            checkpoint=None, options=None, name=None, execute=True):
        account = AccountConfig(name or f"test-{platform}", platform, account_id, "TEST_TOKEN", api_base,
                                dict(options or {}))
        collector = collector_class(platform)(account, token)
        exchanges: list[dict] = []
        sleeps: list[float] = []

        def recorder(ex):
            body = ex.body.read()
            ex.body.seek(0)
            exchanges.append({"url": ex.url, "status": ex.status, "request_headers": list(ex.request_headers),
                              "response_headers": list(ex.response_headers), "body": body})
            return None, None

        fetcher = Fetcher(recorder=recorder, account=account.name, auth=collector.auth(),
                          api_base=collector.api_base or None,
                          secrets=[token] if token else [], secret_params=collector.secret_params,
                          sleep=sleeps.append)
        ctx = CollectContext(account, fetcher, now or datetime.now(timezone.utc), since,
                             page_limit=page_limit, checkpoint=dict(checkpoint or {}),
                             secrets={"token": token} if token else {})
        result = CollectorRun(collector, ctx, exchanges, sleeps)
        return result.run() if execute else result

    return run


@pytest.fixture(scope="module")
def module_replay():
    """One ReplayServer for a whole test module: stopping a server waits out its half-second
    poll, which adds up over many small tests. Use ``reused_replay`` in the tests."""
    with ReplayServer() as server:
        yield server


@pytest.fixture
def reused_replay(module_replay):
    """The module's ReplayServer with injected faults and the request log cleared."""
    module_replay.faults.clear()
    module_replay.log.clear()
    return module_replay
