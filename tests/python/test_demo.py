"""`palisade demo`: one command gives a working gateway, private credentials that survive
a restart, and a curl command that works when pasted."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import (
    PALISADE_BIN,
    STARTUP_TIMEOUT_S,
    OutputReader,
    free_port,
    http_ok,
    require_binary,
    stop_process,
    wait_until,
)


class Demo:
    """A running `palisade demo`; its stdout is collected in the background."""

    def __init__(self, directory: Path) -> None:
        require_binary(PALISADE_BIN)
        self.port, self.admin_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "PALISADE_ADMIN_TOKEN")}
        self.proc = subprocess.Popen(
            [
                str(PALISADE_BIN),
                "demo",
                "--port",
                str(self.port),
                "--admin-port",
                str(self.admin_port),
                "--dir",
                str(directory),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = OutputReader(self.proc.stdout)

    def wait_ready(self) -> str:
        """Waits for the banner and the health endpoint; returns the output so far."""
        self.output.wait_for(r"Press Ctrl-C to stop", STARTUP_TIMEOUT_S)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.port}/healthz"), STARTUP_TIMEOUT_S, "the demo's /healthz")
        return self.output.text()

    def stop(self) -> int | None:
        return stop_process(self.proc)


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    return tmp_path / "palisade-demo"


def printed_curl(banner: str) -> list[str]:
    """The curl command of the banner, continuation lines joined, as argv."""
    m = re.search(r"^\s*(curl .*?-d '.*?')\s*$", banner, re.MULTILINE | re.DOTALL)
    assert m, f"no curl command in:\n{banner}"
    return shlex.split(m.group(1).replace("\\\n", " "))


def read_credentials(demo_dir: Path) -> dict:
    path = demo_dir / "credentials.json"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return json.loads(path.read_text())


def test_demo_runs_and_reuses_credentials(demo_dir: Path):
    first = Demo(demo_dir)
    try:
        banner = first.wait_ready()
        creds = read_credentials(demo_dir)
        assert set(creds) >= {"api_key", "admin_token"}
        assert creds["api_key"].startswith("pal_") and creds["admin_token"].startswith("pat_")
        assert stat.S_IMODE(demo_dir.stat().st_mode) == 0o700
        assert creds["api_key"] in banner

        argv = printed_curl(banner)
        assert argv[0] == "curl" and f"http://127.0.0.1:{first.port}/v1/chat/completions" in argv
        result = subprocess.run(
            [argv[0], "-sS", "--fail-with-body", "--max-time", "20", *argv[1:]],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        reply = json.loads(result.stdout)
        assert reply["object"] == "chat.completion"
        assert reply["model"] == "demo"
        assert reply["choices"][0]["message"]["content"]
    finally:
        exit_code = first.stop()
    assert exit_code == 0, first.output.text()[-2000:]

    second = Demo(demo_dir)
    try:
        banner = second.wait_ready()
        again = read_credentials(demo_dir)
        assert again == creds
        assert creds["api_key"] in banner
        argv = printed_curl(banner)
        result = subprocess.run(
            [argv[0], "-sS", "--fail-with-body", "--max-time", "20", *argv[1:]],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        assert json.loads(result.stdout)["choices"][0]["message"]["content"]
    finally:
        exit_code = second.stop()
    assert exit_code == 0, second.output.text()[-2000:]
