"""`dcn serve` as an operator runs it: a clear error with a hint and a non-zero exit
for a bad --bind, a port in use, no state; and a server that answers, then stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.workspace import Workspace
from tests.web.conftest import EXAMPLE

DCN = [sys.executable, "-m", "dcn.cli"]


def dcn(folder: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    for name in ("DCN_FILE", "DCN_STATE_DIR", "DCN_STATE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [*DCN, "-f", str(folder / "dcn.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=folder,
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "bind", ["nonsense", "127.0.0.1", "127.0.0.1:99999", "my host:80", ":8080", "[::1]:x"]
)
def test_a_bad_bind_is_a_clear_error(filled: Workspace, bind: str) -> None:
    from dcn.cli.serve import parse_bind

    with pytest.raises(DcnError) as found:
        parse_bind(bind)
    assert "--bind" in found.value.message and "HOST:PORT" in found.value.hint


def test_bind_forms() -> None:
    from dcn.cli.serve import parse_bind

    assert parse_bind("127.0.0.1:8765").port == 8765
    assert parse_bind("[::1]:80").host == "::1"
    assert parse_bind("localhost:0").url(4321) == "http://localhost:4321/"


def test_errors_of_the_command(filled: Workspace, tmp_path: Path) -> None:
    bad = dcn(tmp_path, "serve", "--bind", "nowhere")
    assert bad.returncode == 2 and "bad --bind" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = dcn(tmp_path, "serve", "--bind", f"127.0.0.1:{port}")
    assert busy.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in busy.stderr
    assert "--bind" in busy.stderr and "Traceback" not in busy.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "dcn.yaml").write_text(EXAMPLE.read_text())
    none = dcn(empty, "serve", "--bind", f"127.0.0.1:{free_port()}")
    assert none.returncode == 2 and "no state store" in none.stderr
    assert "dcn -f" in none.stderr and "plan" in none.stderr
    assert not (empty / ".dcn" / "state.db").exists()  # nothing was made


def test_it_serves_until_stopped(filled: Workspace, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*DCN, "-f", str(tmp_path / "dcn.yaml"), "serve", "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/fleet", timeout=5) as r:
                    body = r.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert 'data-site="dcn0"' in body
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out
    assert "Traceback" not in err
