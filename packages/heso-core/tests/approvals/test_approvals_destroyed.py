"""``destroy``-redacted arguments of ``@heso.gated`` functions: nothing on disk confirms a guess
of the value (issue 15, item 10), so only the process that suspended such a call can resume it;
any other fails closed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import blake3

import heso
from heso.approvals.file_store import FileApprovalStore
from heso.canonical import canonical_bytes
from heso.errors import ApprovalError


def _unlock(calls: list[str]):
    # Named "refund" so the fixture's policy parks it for the oncall group.
    @heso.gated
    @heso.tool(redact={"pin": "destroy"}, name="refund")
    def unlock(door: str, pin: str) -> str:
        calls.append(door)
        return "open"

    return unlock


def _confirmed_guesses(approvals, session: str) -> list[str]:
    """The PINs whose keyed digest, under the secret stored beside the session, appears
    anywhere in ``approvals/`` (the attack of issue 15, item 10)."""
    directory = FileApprovalStore(approvals.project.data_dir).session_dir(session)
    stored = b"".join(
        p.read_bytes() for p in sorted(approvals.project.data_dir.rglob("*")) if p.is_file()
    )
    secrets = []
    session_file = directory / "session.json"
    if session_file.exists():
        doc = json.loads(session_file.read_text())
        secrets = [
            bytes.fromhex(value)
            for value in doc.values()
            if isinstance(value, str) and len(value) == 64
        ]
    hits = []
    for guess in (f"{n:04d}" for n in range(10_000)):
        identity = {
            "fields": {"door": "vault", "pin": guess},
            "tool_name": "refund",
            "tool_version": None,
            "verb": "tool_call",
        }
        message = canonical_bytes(identity)
        for secret in secrets:
            if blake3.blake3(message, key=secret).hexdigest().encode() in stored:
                hits.append(guess)
    return hits


def test_a_destroyed_argument_cannot_be_brute_forced(approvals):
    calls: list[str] = []
    unlock = _unlock(calls)
    assert unlock("vault", "4821", _heso_session="s-pin") is heso.SUSPENDED
    assert unlock("vault", "1234", _heso_session="s-pin") is heso.DENIED  # drift, recorded
    assert "drift" in approvals.kinds("s-pin")
    assert _confirmed_guesses(approvals, "s-pin") == []
    # The process that suspended the call can still resume it, with the same PIN only.
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    assert unlock("vault", "0000", _heso_session="s-pin") is heso.DENIED
    assert unlock("vault", "4821", _heso_session="s-pin") == "open"
    assert calls == ["vault"]
    assert _confirmed_guesses(approvals, "s-pin") == []


def test_another_process_cannot_resume_a_destroyed_argument(approvals):
    calls: list[str] = []
    unlock = _unlock(calls)
    assert unlock("vault", "4821", _heso_session="s-pin2") is heso.SUSPENDED
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    heso.shutdown()
    script = textwrap.dedent(
        f"""
        import heso
        from heso.errors import ApprovalError
        heso.init(project_root={str(approvals.root)!r})
        ran = []

        @heso.gated
        @heso.tool(redact={{"pin": "destroy"}}, name="refund")
        def unlock(door: str, pin: str) -> str:
            ran.append(door)
            return "open"

        try:
            out = unlock("vault", "4821", _heso_session="s-pin2")
        except ApprovalError as exc:
            out = "refused: " + str(exc)
        import json
        print(json.dumps([str(out), ran]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out, ran = json.loads(done.stdout)
    assert out.startswith("refused: ") and "destroy" in out and ran == []
    assert "4821" not in done.stdout + done.stderr
    approvals.init()
    assert heso.decision("s-pin2") == "approved"
    assert issubclass(ApprovalError, heso.HesoError)
