"""``heso console`` as a command: what it prints, where it listens, what it refuses."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from typing import Any

from heso.cli import main

from .conftest import Scene


def request(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_console_serves_on_loopback_with_a_fresh_token(scene: Scene, start_console: Any) -> None:
    console = start_console(scene.root)
    assert console.url == f"http://127.0.0.1:{console.port}/?token={console.token}"
    assert console.port > 0 and len(console.token) >= 40
    status, _, _ = request(console.port, "/")
    assert status == 401
    status, headers, _ = request(console.port, "/?token=" + console.token)
    assert status == 303
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    session = cookie.split(";")[0]
    status, _, body = request(console.port, "/api/receipts", {"Cookie": session})
    assert status == 200 and json.loads(body)["total"] == 8
    status, _, body = request(
        console.port, "/api/receipts", {"Cookie": session, "Host": "attacker.example"}
    )
    assert status == 403 and json.loads(body)["error"] == "HostNotAllowed"
    other = start_console(scene.root)
    assert other.token != console.token and other.port != console.port
    status, _, _ = request(other.port, "/?token=" + console.token)
    assert status == 403

    console.process.terminate()  # a graceful stop: uvicorn finishes, then re-raises SIGTERM
    assert console.process.wait(timeout=10) in (0, -15)
    assert console.process.stderr is not None
    assert "Traceback" not in console.process.stderr.read()


def test_human_output_says_where_to_go(scene: Scene) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heso",
            "console",
            "--project",
            str(scene.root),
            "--port",
            "0",
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        opened = proc.stdout.readline()
        assert first == f"heso console for {scene.root}\n"
        assert opened.startswith("  open: http://127.0.0.1:") and "/?token=" in opened
        port = int(opened.split(":")[3].split("/")[0])
        assert request(port, "/static/heso.css")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_a_busy_port_is_reported_with_a_hint(scene: Scene, capsys: Any) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        code = main(["console", "--project", str(scene.root), "--port", str(port), "--no-browser"])
    finally:
        busy.close()
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port 0" in err


def test_without_the_console_extra_it_says_what_to_install(
    scene: Scene, monkeypatch: Any, capsys: Any
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["console", "--project", str(scene.root), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "./packages/heso-core[console]"' in err and "uvicorn" in err
    assert main(["console", "--project", str(scene.root), "--no-browser", "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"] == "MissingExtra" and "heso-core[console]" in out["message"]
