"""The end-to-end harness: real `palisade` and `palisade-mock-upstream` processes.

One session starts the mock OpenAI upstream, writes a config with a simulated model and
a set of mock-backed models (one per fault scenario), runs `palisade serve`, waits for
it to be healthy, and creates a user and an API key through the admin API. Every
process is stopped at the end (terminate, then kill after a timeout). All traffic stays
on 127.0.0.1 and every wait is bounded.

Binaries come from ``$PALISADE_BIN`` / ``$PALISADE_MOCK_BIN`` when set, otherwise from
``$CARGO_TARGET_DIR/debug`` (default ``<repo>/target``); build them first with
``cargo build --workspace --bins``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import socketserver
import string
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
PALISADE_BIN = Path(os.environ.get("PALISADE_BIN") or TARGET_DIR / "debug" / "palisade")
MOCK_BIN = Path(os.environ.get("PALISADE_MOCK_BIN") or TARGET_DIR / "debug" / "palisade-mock-upstream")

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 30.0

# What the mock upstream answers (crates/palisade-testkit/src/mock_upstream/openai.rs).
MOCK_REPLY = "Hello from the mock upstream, one word at a time."
# The key the gateway presents to the mock; never the client's key.
UPSTREAM_KEY_ENV = "PALISADE_TEST_UPSTREAM_KEY"

SIM = "sim"
MOCK = "mock"
# Public model name -> (provider, upstream model). Order is config order.
MODELS: dict[str, tuple[str, str]] = {
    SIM: ("simulated", "palisade-simulated-1"),
    MOCK: ("mock", "gpt-4o-mini"),
    "mock-500": ("mock", "error-500"),
    "mock-slow": ("mock-slow", "slow-8000"),
    "mock-break": ("mock", "break-3"),
    "mock-flaky": ("mock", "flaky-1"),
    "mock-nodone": ("mock", "nodone"),
    "mock-refused": ("refused", "gpt-4o-mini"),
    "py-break": ("py-break", "gpt-4o-mini"),
    # Content scanning (test_scanning.py): the mock repeats the last user message, or
    # its ROT13 decoding, streamed in chunks of a few bytes so matches straddle chunks.
    "echo": ("mock", "echo-3"),
    "rot13": ("mock", "rot13-4"),
    "echo-redact": ("mock", "echo-5"),
    "rot13-redact": ("mock", "rot13-3"),
    "echo-flag": ("mock", "echo-7"),
    "echo-banned": ("mock", "echo-4"),
    "echo-developer": ("mock", "echo-6"),
    # An OpenAI embedding model: token-id input is read with its tokenizer (cl100k_base,
    # declared in its config below).
    "mock-embed": ("mock", "text-embedding-3-small"),
    # A name with a slash, as Hugging Face models are named.
    "org/sim-slash": ("simulated", "sim-1"),
}
SIM_ALIAS = "sim-alias"
MAX_BODY_BYTES = 256 * 1024  # above pipeline/offload.rs's 64 KB, so large texts take that path


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A loopback port with (almost certainly) nothing listening: connections are refused."""
    return free_port()


def random_token(n: int = 40) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Polls `predicate` until it is true; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def secret_part(secret: str) -> str:
    """The random part of `pal_<id>_<secret>` / `pat_<id>_<secret>`; other tokens whole."""
    parts = secret.split("_", 2)
    return parts[2] if len(parts) == 3 and parts[0] in ("pal", "pat") else secret


def require_binary(path: Path) -> None:
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.exit(f"{path} is missing: run `cargo build --workspace --bins` first", returncode=2)


class OutputReader:
    """Collects a child's stdout lines on a thread, so waits on it can be bounded."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        for line in iter(stream.readline, ""):
            with self._lock:
                self.lines.append(line)
        stream.close()

    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        found: list[re.Match] = []

        def seen() -> bool:
            m = re.search(pattern, self.text(), re.MULTILINE)
            if m:
                found.append(m)
            return bool(m)

        wait_until(seen, timeout, f"output matching {pattern!r}")
        return found[0]


# --------------------------------------------------------------------------- mock upstream


@dataclass
class MockUpstream:
    proc: subprocess.Popen
    url: str  # http://127.0.0.1:PORT

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def requests(self) -> list[dict]:
        """What the mock received (oldest first, last 100)."""
        resp = httpx.get(f"{self.url}/__mock/requests", timeout=HTTP_TIMEOUT_S)
        resp.raise_for_status()
        return resp.json()["requests"]

    def requests_containing(self, marker: str) -> list[dict]:
        """Recorded requests whose body mentions `marker` anywhere."""
        return [r for r in self.requests() if marker in json.dumps(r["body"])]


@pytest.fixture(scope="session")
def mock_upstream() -> MockUpstream:
    require_binary(MOCK_BIN)
    proc = subprocess.Popen(
        [str(MOCK_BIN), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = OutputReader(proc.stdout)
        m = out.wait_for(r"listening on (127\.0\.0\.1:\d+)", STARTUP_TIMEOUT_S)
        mock = MockUpstream(proc=proc, url=f"http://{m.group(1)}")
        wait_until(lambda: http_ok(f"{mock.url}/v1/models"), STARTUP_TIMEOUT_S, "the mock upstream")
        yield mock
    finally:
        stop_process(proc)


# --------------------------------------------------------------------------- breaking upstream


class _BreakingHandler(socketserver.BaseRequestHandler):
    """Answers any request with a chunked SSE stream (a role chunk, two content chunks), then closes the
    connection without the terminating chunk: a transport-level break mid-stream."""

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                return
            data += part
        head, body = data.split(b"\r\n\r\n", 1)
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        remaining = int(length.group(1)) - len(body) if length else 0
        while remaining > 0:
            part = sock.recv(min(remaining, 65536))
            if not part:
                return
            remaining -= len(part)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for delta in ({"role": "assistant", "content": ""}, {"content": "Hello "}, {"content": "from "}):
            chunk = {
                "id": "chatcmpl-py",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "py",
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
            event = f"data: {json.dumps(chunk)}\n\n".encode()
            sock.sendall(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        time.sleep(0.1)
        sock.shutdown(socket.SHUT_RDWR)


class BreakingUpstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    @property
    def base_url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}/v1"


@pytest.fixture(scope="session")
def breaking_upstream() -> BreakingUpstream:
    server = BreakingUpstream(("127.0.0.1", 0), _BreakingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=STOP_TIMEOUT_S)


# --------------------------------------------------------------------------- gateway


def gateway_config(
    *, data_port: int, admin_port: int, db: Path, mock_base_url: str, refused_port: int, breaking_base_url: str
) -> str:
    """The harness's config: every model of MODELS, small limits so tests run fast."""
    models = []
    for name, (provider, upstream) in MODELS.items():
        aliases = f'aliases = ["{SIM_ALIAS}"]\n' if name == SIM else ""
        if name == "mock-embed":
            # The mock is no OpenAI host: the vocabulary of its ids is declared.
            aliases += 'token_encoding = "cl100k_base"\n'
        models.append(f'[[models]]\nname = "{name}"\nprovider = "{provider}"\nupstream_model = "{upstream}"\n{aliases}')
    return f"""\
[server]
listen = "127.0.0.1:{data_port}"
admin_listen = "127.0.0.1:{admin_port}"
max_body_bytes = {MAX_BODY_BYTES}
request_timeout_ms = 20000
shutdown_grace_ms = 5000

[store]
url = "sqlite://{db}"

[logging]
level = "debug"
format = "json"

[[providers]]
name = "simulated"
kind = "simulated"
words_per_chunk = 1
embedding_dimensions = 64

[[providers]]
name = "mock"
kind = "openai"
base_url = "{mock_base_url}"
api_key = "${{{UPSTREAM_KEY_ENV}}}"
max_retries = 2
retry_backoff_ms = 20

[[providers]]
name = "mock-slow"
kind = "openai"
base_url = "{mock_base_url}"
timeout_ms = 1000
max_retries = 0

[[providers]]
name = "refused"
kind = "openai"
base_url = "http://127.0.0.1:{refused_port}/v1"
connect_timeout_ms = 1000
max_retries = 1
retry_backoff_ms = 10

[[providers]]
name = "py-break"
kind = "openai"
base_url = "{breaking_base_url}"
max_retries = 0

[scan]
stream_holdback_bytes = 48

[[scan.profiles]]
name = "redactor"
actions = {{ email = "redact", phone = "redact", credit_card = "mask", iban = "redact", secret = "redact", injection = "flag", obfuscation = "flag" }}

[[scan.profiles]]
name = "flagger"
actions = {{ pii = "flag", secret = "flag", injection = "flag" }}

# For `rot13`: the default actions, but injection findings only flagged. Its prompts are
# ROT13 gibberish (so that only the answer carries the secret), and the injection
# classifier's opinion of gibberish must not decide the output tests.
[[scan.profiles]]
name = "model-speaks"
actions = {{ secret = "block", pii = "pseudonymize", injection = "flag", obfuscation = "flag", banned = "block", leak = "block" }}
banned_terms = ["project bluebird"]

[[scan.profiles]]
name = "banned"
actions = {{ banned = "block", pii = "pseudonymize" }}
banned_terms = ["project bluebird"]
banned_topics = {{ weapons = ["nerve agent"] }}

# For `echo-developer`: the developer's text (system prompts, tool definitions) is
# scanned too.
[[scan.profiles]]
name = "developer-text"
scan_system = true
actions = {{ secret = "block", email = "redact", injection = "flag", obfuscation = "flag" }}

[[audit.capture_rules]]
models = ["echo"]
capture = "redacted"

[[scan.rules]]
models = ["echo-redact", "rot13-redact"]
profile = "redactor"

[[scan.rules]]
models = ["rot13"]
profile = "model-speaks"

[[scan.rules]]
models = ["echo-flag"]
profile = "flagger"

[[scan.rules]]
models = ["echo-banned"]
profile = "banned"

[[scan.rules]]
models = ["echo-developer"]
profile = "developer-text"

""" + "\n".join(models)


DEFAULT_TOKEN = object()
# The session's gateway once started, for failure reports.
_running_gateway: Gateway | None = None


@dataclass
class Gateway:
    """A running `palisade serve` and what the tests need to talk to it."""

    proc: subprocess.Popen
    data_url: str  # http://127.0.0.1:PORT
    admin_url: str  # http://127.0.0.1:PORT
    admin_token: str
    upstream_key: str
    config_path: Path
    store_dir: Path
    stderr_path: Path
    env: dict[str, str]
    # Every secret issued during the session (API keys, admin tokens): the secrecy test
    # checks none of them leaks into logs or the database.
    secrets: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"{self.data_url}/v1"

    def client(self, api_key: str, **kwargs) -> openai.OpenAI:
        """An SDK client without SDK-side retries, so each test sees the gateway's answer."""
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return openai.OpenAI(base_url=self.base_url, api_key=api_key, **kwargs)

    def admin(self, method: str, path: str, *, token: str | None | object = DEFAULT_TOKEN, **kwargs) -> httpx.Response:
        """An admin API call with the bootstrap admin token, another `token`, or with
        `token=None` no Authorization header at all."""
        token = self.admin_token if token is DEFAULT_TOKEN else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.admin_url}{path}", headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs)

    def create_user(self, name: str, groups: list[str] | None = None) -> dict:
        resp = self.admin("POST", "/admin/v1/users", json={"name": name, "groups": groups or []})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def create_key(self, user: str, **body) -> dict:
        """POST /admin/v1/keys; the returned dict holds `key` (the secret) and `id`."""
        resp = self.admin("POST", "/admin/v1/keys", json={"user": user, **body})
        assert resp.status_code == 201, resp.text
        created = resp.json()
        self.secrets.append(created["key"])
        return created

    def create_admin_token(self, role: str) -> str:
        resp = self.admin("POST", "/admin/v1/tokens", json={"role": role})
        assert resp.status_code == 201, resp.text
        token = resp.json()["token"]
        self.secrets.append(token)
        return token

    def run_cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Runs the `palisade` CLI against this gateway's admin API."""
        env = {**self.env, "PALISADE_ADMIN_URL": self.admin_url, "PALISADE_ADMIN_TOKEN": self.admin_token}
        return subprocess.run([str(PALISADE_BIN), *args], env=env, capture_output=True, text=True, timeout=timeout)

    def logs(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def db_bytes(self) -> dict[str, bytes]:
        """Raw bytes of the SQLite database and its WAL/SHM files (those that exist)."""
        out = {}
        for suffix in ("", "-wal", "-shm"):
            path = self.store_dir / f"palisade.db{suffix}"
            if path.exists():
                out[path.name] = path.read_bytes()
        return out

    def stop(self) -> int | None:
        return stop_process(self.proc)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory, mock_upstream: MockUpstream, breaking_upstream: BreakingUpstream) -> Gateway:
    global _running_gateway
    require_binary(PALISADE_BIN)
    work = tmp_path_factory.mktemp("gateway")
    store_dir = work / "store"
    store_dir.mkdir()
    data_port, admin_port = free_port(), free_port()
    while admin_port == data_port:
        admin_port = free_port()
    config_path = work / "palisade.toml"
    config_path.write_text(
        gateway_config(
            data_port=data_port,
            admin_port=admin_port,
            db=store_dir / "palisade.db",
            mock_base_url=mock_upstream.base_url,
            refused_port=closed_port(),
            breaking_base_url=breaking_upstream.base_url,
        )
    )
    admin_token = random_token(40)
    upstream_key = "sk-upstream-" + random_token(24)
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "PALISADE_ADMIN_TOKEN", "PALISADE_CONFIG")}
    env[UPSTREAM_KEY_ENV] = upstream_key
    stderr_path = work / "gateway.stderr.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [str(PALISADE_BIN), "serve", "--config", str(config_path)],
            env={**env, "PALISADE_ADMIN_TOKEN": admin_token},
            cwd=str(work),  # relative config paths (the audit keys by default) land here
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    gw = Gateway(
        proc=proc,
        data_url=f"http://127.0.0.1:{data_port}",
        admin_url=f"http://127.0.0.1:{admin_port}",
        admin_token=admin_token,
        upstream_key=upstream_key,
        config_path=config_path,
        store_dir=store_dir,
        stderr_path=stderr_path,
        env=env,
        secrets=[admin_token],
    )
    try:

        def healthy() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"palisade exited with {proc.returncode} during startup:\n{gw.logs()[-4000:]}")
            return http_ok(f"{gw.data_url}/healthz") and http_ok(f"{gw.admin_url}/healthz")

        wait_until(healthy, STARTUP_TIMEOUT_S, "palisade /healthz")
        _running_gateway = gw
        yield gw
    finally:
        _running_gateway = None
        gw.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the tail of the gateway's log to every failed test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _running_gateway is not None:
        tail = "\n".join(_running_gateway.logs().splitlines()[-40:])
        report.sections.append(("palisade serve stderr (last 40 lines)", tail))


@pytest.fixture(scope="session")
def test_user(gateway: Gateway) -> dict:
    """The user the data-plane tests call as."""
    return gateway.create_user("e2e-user", groups=["e2e"])


@pytest.fixture(scope="session")
def api_key(gateway: Gateway, test_user: dict) -> str:
    return gateway.create_key(test_user["name"], name="e2e")["key"]


@pytest.fixture(scope="session")
def client(gateway: Gateway, api_key: str) -> openai.OpenAI:
    return gateway.client(api_key)


@pytest.fixture(params=[SIM, MOCK])
def model(request) -> str:
    """Runs a test against both the simulated model and the mock-backed one."""
    return request.param
