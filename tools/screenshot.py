"""Take the README's screenshots of ``heso console`` and the offline verifier page.

Builds a demo project in a temporary directory (a day of an agent's actions, some blocked, some
waiting for approval, one approved with an L1 receipt), starts ``heso console`` on loopback
and drives Debian's Chromium headless (Playwright, ``/usr/bin/chromium``). Writes
``docs/img/console.png`` (receipts and the timeline), ``console-receipt.png`` (one receipt and
its verification and inclusion proof), ``console-checkpoints.png`` (the log's checkpoints),
``console-approvals.png`` (the queue and one card), ``console-broken.png``
(the chain-broken banner over the receipts) and ``verifier.png`` (a tampered chain).

    python tools/screenshot.py
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOW = "2026-03-02T17:30:00Z"
POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "no-deletes-in-prod"
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

[approvers.oncall]
members = {{ alice = "{alice}" }}

[approvers.finance]
members = {{ alice = "{alice}", bob = "{bob}", carol = "{carol}" }}
threshold = 2
"""
ACTIONS = [
    ("tool_call", "search_docs", {"q": "refund policy"}),
    ("tool_call", "send_email", {"to": "customer@example.com", "subject": "Your order"}),
    ("http_request", "fetch_rates", {"url": "https://rates.example/eur"}),
    ("llm_call", "summarize", {"model": "small", "tokens": 812}),
    ("tool_call", "lookup_order", {"order": "A-1042"}),
    ("data_export", "export_report", {"format": "csv", "rows": 120}),
]


def build(project: Path) -> dict[str, str]:
    """Capture a day of actions at pinned times; returns tool → pending action_hash."""
    import heso
    from heso.approvals.decisions import approver_decision
    from heso.approvals.external import record_external_decision
    from heso.approvals.file_store import FileApprovalStore
    from heso.approvals.registry import load_project_registry
    from heso.errors import BlockedError, SuspendedError
    from heso.keys import SigningKey
    from heso.project import init_project

    init_project(project)
    keys = {n: SigningKey.generate() for n in ("alice", "bob", "carol")}
    text = POLICY.format(**{n: k.public_key().to_str() for n, k in keys.items()})
    (project / "heso.toml").write_text(text)
    rnd = random.Random(4)
    plan = []
    for hour in range(8, 18):
        for _ in range(rnd.randint(2, 6)):
            verb, tool, fields = rnd.choice(ACTIONS)
            plan.append((f"2026-03-02T{hour:02d}:{rnd.randint(0, 59):02d}:00Z", verb, tool, fields))
        if hour in (10, 15):
            plan.append((f"2026-03-02T{hour:02d}:30:00Z", "delete", "drop_table", {"t": "users"}))
    plan += [
        ("2026-03-02T12:05:00Z", "tool_call", "refund", {"order": "A-1042", "amount": 40}),
        (
            "2026-03-02T16:40:00Z",
            "tool_call",
            "wire_transfer",
            {"to": "ACME GmbH", "amount": 25000},
        ),
        ("2026-03-02T17:10:00Z", "tool_call", "refund", {"order": "A-1077", "amount": 310}),
    ]
    plan.sort()
    pending: dict[str, str] = {}
    for when, verb, tool, fields in plan:
        os.environ["HESO_CLOCK"] = when
        heso.init(project_root=project, clock_override=when, workflow="support", account="acme")
        try:
            heso.process(heso.Action(heso.Verb(verb), tool, fields))
        except SuspendedError as exc:
            pending[f"{tool}:{fields.get('order', '')}"] = exc.action_hash
        except BlockedError:
            pass
    # alice approves the first refund (as a browser would), the operator resumes: L1.
    first = pending.pop("refund:A-1042")
    os.environ["HESO_CLOCK"] = "2026-03-02T12:20:00Z"
    part = approver_decision(
        keys["alice"],
        approver="alice",
        action_hash=first,
        decision="approved",
        group="oncall",
        threshold=1,
        at="2026-03-02T12:20:00Z",
        reason="customer called",
    )
    store = FileApprovalStore(project / "heso-local-data")
    record_external_decision(store, load_project_registry(project), part)
    heso.init(project_root=project, clock_override="2026-03-02T12:21:00Z")
    heso.resume(f"action-{first}")
    heso.shutdown()
    os.environ["HESO_CLOCK"] = NOW
    return pending


def main() -> int:
    from playwright.sync_api import sync_playwright

    from heso.web import export_verifier

    OUT.mkdir(parents=True, exist_ok=True)
    for name in [n for n in os.environ if n.startswith("HESO_")]:
        del os.environ[name]
    os.environ["HESO_KDF_PROFILE"] = "interactive"
    with tempfile.TemporaryDirectory(prefix="heso-shots-") as tmp:
        project = Path(tmp) / "support-agent"
        pending = build(project)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heso",
                "console",
                "--project",
                str(project),
                "--port",
                "0",
                "--no-browser",
                "--json",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1240, "height": 980})
                page.goto(info["url"])
                page.wait_for_selector('main[data-loaded="receipts"]')
                page.screenshot(path=str(OUT / "console.png"))
                page.click("table.list tbody tr:nth-child(3)")
                page.wait_for_selector('main[data-loaded^="entry/"]')
                page.wait_for_selector('[data-browser-verdict="Valid"]')
                page.wait_for_selector('[data-proof="verified"]')
                page.locator(".entry-detail").screenshot(path=str(OUT / "console-receipt.png"))
                page.click('#tabs button[data-tab="checkpoints"]')
                page.wait_for_selector('main[data-loaded="checkpoints"]')
                page.locator(".checkpoints").screenshot(path=str(OUT / "console-checkpoints.png"))

                page.click('#tabs button[data-tab="key"]')
                page.wait_for_selector("#create-key")
                page.click("#create-key")
                public = page.inner_text("#public-key").strip()
                toml = (project / "heso.toml").read_text()
                toml = toml.replace(
                    "members = { alice", f'members = {{ dana = "{public}", alice', 1
                )
                (project / "heso.toml").write_text(toml)
                page.click("text=I registered it: reload heso.toml")
                page.wait_for_selector('#key-status[data-registered="dana"]')
                page.click('#tabs button[data-tab="approvals"]')
                page.wait_for_selector('main[data-loaded="approvals"]')
                page.click("table.queue tbody tr:first-child")
                page.wait_for_selector("#approval-detail section.approval")
                page.screenshot(path=str(OUT / "console-approvals.png"), full_page=True)

                chain = Path(tmp) / "tampered"
                chain.mkdir()
                lines = (project / "heso-local-data" / "receipts.jsonl").read_bytes().splitlines()
                lines[17] = lines[17].replace(b'"support"', b'"payroll"', 1)
                (chain / "receipts.jsonl").write_bytes(b"\n".join(lines) + b"\n")
                shutil.copy(project / "heso-local-data" / "chain.head.json", chain)
                verifier = export_verifier(Path(tmp) / "heso-verifier.html")

                # The project's own chain edited in place: every tab shows the banner.
                own = project / "heso-local-data" / "receipts.jsonl"
                own.write_bytes(b"\n".join(lines) + b"\n")
                page.goto(info["url"].split("?")[0] + "#receipts")
                page.wait_for_selector('#banner[data-verdict="HashMismatch"]')
                page.wait_for_selector('main[data-loaded="receipts"]')
                page.screenshot(path=str(OUT / "console-broken.png"))

                page = browser.new_page(viewport={"width": 1240, "height": 760})
                page.goto(verifier.as_uri())
                page.wait_for_selector('body[data-state="ready"]')
                page.set_input_files(
                    "#files", [str(chain / "receipts.jsonl"), str(chain / "chain.head.json")]
                )
                page.wait_for_selector('body[data-state="done"]')
                page.screenshot(path=str(OUT / "verifier.png"), full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait()
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} to {OUT}")
    print(f"{len(pending)} actions left waiting for approval in the demo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
