"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, pages served on
loopback, a project with receipts and pending approvals, and ``heso console`` as a process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-pings",
    "--metrics-recording-only",
]
VECTORS = Path(__file__).resolve().parents[4] / "docs" / "vectors"
T0 = "2026-03-02T09:00:00Z"

POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "no-deletes"
verb = "delete"
scope = "*"
decision = "block"

[[rule]]
id = "wires-need-finance"
verb = "tool_call"
scope = "wire_transfer"
decision = "require_approval"
approvers = ["finance"]

[[rule]]
id = "refunds-need-oncall"
verb = "tool_call"
scope = "refund"
decision = "require_approval"
approvers = ["oncall"]
"""


def approvers_toml(groups: dict[str, tuple[dict[str, str], int]]) -> str:
    """``[approvers.<group>]`` tables: group → ({name: public key}, threshold)."""
    out = []
    for group, (members, threshold) in groups.items():
        inline = ", ".join(f'{n} = "{k}"' for n, k in members.items())
        out.append(f"[approvers.{group}]\nmembers = {{ {inline} }}\nthreshold = {threshold}\n")
    return "\n".join(out)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, launched by Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps its event loop running while it is open, which
    asyncio tests elsewhere in the session must not see."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        message = "the browser tests need Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it, so CI must not lack it")
        pytest.skip(f"{message}; CI always runs them")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own storage) and page; page errors fail the test."""
    context = browser.new_context()
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.set_default_timeout(20_000)
    try:
        yield p
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture
def serve_dir() -> Iterator[Callable[[Path], str]]:
    """Serve a directory on 127.0.0.1 (an ephemeral port); returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    def start(directory: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(directory)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def verifier_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline verifier page, exported to a file."""
    from heso.web import export_verifier

    return export_verifier(tmp_path_factory.mktemp("verifier") / "heso-verifier.html")


@pytest.fixture
def verifier(page: Any, verifier_file: Path) -> Any:
    """The exported page, opened from disk (file:) as a person would."""
    page.goto(verifier_file.as_uri())
    page.wait_for_selector('body[data-state="ready"]')
    return page


@dataclass
class Scene:
    """A project with receipts of every decision and actions waiting for approval."""

    root: Path
    data_dir: Path
    keys: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # tool → action_hash

    def write_approvers(self, groups: dict[str, tuple[dict[str, str], int]]) -> None:
        (self.root / "heso.toml").write_text(POLICY + "\n" + approvers_toml(groups))

    def session_of(self, action_hash: str) -> str:
        from heso.approvals.file_store import FileApprovalStore

        return FileApprovalStore(self.data_dir).resolve(action_hash)[1]

    def resign(self) -> str:
        """Re-mint every receipt of the chain under a fresh key, with a fresh head (every hash,
        signature and link checks out; only a pinned key tells), and pin the original operator
        key in ``heso.toml``. Returns the original key."""
        from heso.canonical import loads_strict
        from heso.keys import SigningKey, read_public_key
        from heso.ledger import FileLedger
        from heso.ledger import format as fmt
        from heso.ledger import index as idx
        from heso.receipt import mint

        original = read_public_key(self.data_dir / "operator.key").to_str()
        other = SigningKey.generate()
        lines = (self.data_dir / fmt.CHAIN_FILE).read_bytes().splitlines()
        for name in (fmt.CHAIN_FILE, fmt.HEAD_FILE, idx.INDEX_FILE):
            (self.data_dir / name).unlink(missing_ok=True)
        writer = FileLedger(self.data_dir, key=other)
        for line in lines:
            content = dict(loads_strict(line)["receipt"]["content"])
            del content["action_hash"]
            content["agent_identity"] = other.public_key().to_str()
            writer.append(mint(content, other))
        writer.close()
        with open(self.root / "heso.toml", "a", encoding="utf-8") as f:
            f.write(f'\n[heso]\noperator_keys = ["{original}"]\n')
        return original

    def call_again(self, action_hash: str) -> Any:
        """The operator's side: the suspended call made again, which fires it once approved
        (its L1 receipt is chained then); the gate's ``Outcome``."""
        import heso
        from heso.ledger import FileLedger

        action = FileLedger(self.data_dir).receipt(action_hash)["content"]["action"]
        heso.init(project_root=self.root, clock_override=T0)
        try:
            outcome = heso.process(
                heso.Action(
                    heso.Verb(action["verb"]),
                    action["tool_name"],
                    action["fields"],
                    workflow=action["workflow"],
                    account=action["account"],
                )
            )
            if outcome.ticket is not None:
                outcome.ticket.complete()
            return outcome
        finally:
            heso.shutdown()


def build_scene(root: Path, monkeypatch: pytest.MonkeyPatch) -> Scene:
    """Capture allowed, blocked and parked actions at pinned times (HESO_CLOCK = T0 after)."""
    import heso
    from heso.errors import BlockedError, SuspendedError
    from heso.keys import SigningKey
    from heso.project import init_project

    init_project(root)
    scene = Scene(root, root / "heso-local-data")
    scene.keys = {
        name: SigningKey.from_private_bytes(bytes([i + 1]) * 32)
        for i, name in enumerate(("alice", "bob", "carol"))
    }
    pub = {n: k.public_key().to_str() for n, k in scene.keys.items()}
    scene.write_approvers(
        {
            "oncall": ({"alice": pub["alice"]}, 1),
            "finance": ({"alice": pub["alice"], "bob": pub["bob"], "carol": pub["carol"]}, 2),
        }
    )
    plan: list[tuple[str, str, str, dict[str, Any]]] = [
        ("2026-03-01T08:00:00Z", "tool_call", "send_email", {"to": "a@example.com"}),
        ("2026-03-01T08:30:00Z", "tool_call", "search_docs", {"q": "invoices"}),
        ("2026-03-01T10:15:00Z", "delete", "drop_table", {"table": "users"}),
        ("2026-03-01T12:00:00Z", "tool_call", "send_email", {"to": "b@example.com"}),
        ("2026-03-01T15:45:00Z", "http_request", "fetch_rates", {"url": "https://x.test/r"}),
        ("2026-03-02T08:10:00Z", "tool_call", "wire_transfer", {"to": "ACME", "amount": 25000}),
        ("2026-03-02T08:20:00Z", "tool_call", "refund", {"order": "A-1", "amount": 40}),
        ("2026-03-02T08:40:00Z", "delete", "rm_bucket", {"bucket": "logs"}),
    ]
    for when, verb, tool, fields in plan:
        monkeypatch.setenv("HESO_CLOCK", when)
        heso.init(project_root=root, clock_override=when, workflow="billing", account="acme")
        try:
            heso.process(heso.Action(heso.Verb(verb), tool, fields))
        except SuspendedError as exc:
            scene.pending[tool] = exc.action_hash
        except BlockedError:
            pass
    heso.shutdown()
    monkeypatch.setenv("HESO_CLOCK", T0)
    return scene


@pytest.fixture(scope="session")
def _scene_template(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """The scene, built once (capturing is the slow part); tests get copies."""
    import heso

    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("HESO_")]:
            mp.delenv(name)
        mp.setenv("HESO_KDF_PROFILE", "interactive")
        built = build_scene(tmp_path_factory.mktemp("scene") / "project", mp)
        heso.shutdown()
    return built


@pytest.fixture
def scene(
    _scene_template: Scene, tmp_path: Path, heso_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    """A fresh copy of the :class:`Scene`; the clock is pinned at :data:`T0` for every reader."""
    import heso

    root = tmp_path / "project"
    shutil.copytree(_scene_template.root, root)
    monkeypatch.setenv("HESO_CLOCK", T0)
    yield Scene(
        root, root / "heso-local-data", dict(_scene_template.keys), dict(_scene_template.pending)
    )
    heso.shutdown()


@dataclass
class Console:
    """A running ``heso console`` process."""

    url: str
    token: str
    port: int
    process: subprocess.Popen[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def start_console() -> Iterator[Callable[..., Console]]:
    """Start ``python -m heso console --port 0 --no-browser --json`` for a project."""
    started: list[Console] = []

    def start(root: Path, *extra: str) -> Console:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heso",
                "console",
                "--project",
                str(root),
                "--port",
                "0",
                "--no-browser",
                "--json",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            proc.kill()
            raise AssertionError(f"heso console did not start: {proc.communicate()[1]}")
        info = json.loads(line)
        console = Console(info["url"], info["token"], info["port"], proc)
        started.append(console)
        return console

    yield start
    for console in started:
        console.process.terminate()
        try:
            console.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            console.process.kill()
            console.process.wait()
        for stream in (console.process.stdout, console.process.stderr):
            if stream:
                stream.close()


def dedent(text: str) -> str:
    return textwrap.dedent(text)
