"""Crashes: writers killed with SIGKILL at random moments, a full disk, a read-only or deleted
data directory and a corrupted key file.

The SIGKILL campaigns run against both stores (``store``: files, and PostgreSQL on the test
session's server) and read the chain only through the store-independent ledger API. After every
kill the chain verifies (on files a torn last line is reported as ``TornTail``, then moved to
``receipts.torn`` by the next writer; a database transaction is never torn) and every action
whose body ran has its receipt: each body appends its ``action_hash`` to a side-effect file, and
every hash there must be in the chain. Disk full, read-only and deleted directories and damaged
keys give a clear error, and with blocking on the body does not run.

Disk full and read-only use a real tmpfs when the suite may mount one (``mount -t tmpfs``,
``mount -o remount,ro``); otherwise ``os.write`` is made to fail with ``ENOSPC`` once a byte
budget is spent, and the directory is made read-only with ``chmod`` (or, for root, which
permissions do not stop, opens for writing fail with ``EROFS``).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heso import verdict as v
from heso.keys import load_operator_key
from heso.ledger import FileLedger, verify_chain
from heso.ledger import format as fmt
from heso.ledger.store import LedgerReader
from heso.redaction import RevealStore

TRIALS = {"file": 60, "postgresql": 30}
SOAK_TRIALS = 600
TRIALS_PER_PROJECT = 10
SIZES = (16, 16, 16, 300, 3_000, 40_000, 400_000)
"""Body sizes: mostly small; the large ones make lines a SIGKILL can tear mid-write."""
POLICY = """
[policy]
default = "allow"

[heso]
redact = { api_key = "commit", card = "destroy" }
"""


def _append(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _gate_forever(root: str, effects: str, seed: int, ready: Any, url: str | None) -> None:
    """A child process: 1 to 3 threads gate actions in a loop until it is killed; on files
    every other child uses ``fsync`` durability (its commit queue batches the threads'
    appends); ``url``: the PostgreSQL store instead."""
    import heso

    os.environ["HESO_DURABILITY"] = "fsync" if seed % 2 else "buffered"
    if url is not None:
        os.environ["HESO_STORE"] = url
    heso.init(project_root=root)

    @heso.tool
    def send_report(to: str, api_key: str, card: str, body: str) -> None:
        # The side effect: only ever after the gate returned, i.e. after the append.
        _append(effects, f"{heso.current_action_hash()}\n")

    def loop(t: int) -> None:
        rng = random.Random(seed * 10 + t)
        k = 0
        while True:
            body = "x" * rng.choice(SIZES)
            send_report(f"u{t}-{k}@example.com", f"sk-live-{seed}-{t}-{k}", "4111", body)
            k += 1

    send_report("first@example.com", f"sk-live-{seed}", "4111", "")  # the store is open
    threads = [threading.Thread(target=loop, args=(t,), daemon=True) for t in range(seed % 3)]
    for thread in threads:
        thread.start()
    ready.set()
    loop(len(threads))


def _hash_of(line: bytes) -> str:
    at = line.index(b'"action_hash":"') + 15  # (no field of these actions has that name)
    return line[at : at + 64].decode()


def _hashes(ledger: LedgerReader) -> list[str]:
    """The action_hash of every complete entry, in chain order."""
    return [_hash_of(line) for _, line in ledger.entries()]


def _markers(effects: Path) -> list[str]:
    """Hashes of bodies that ran (a marker torn by the kill counts if it is a hash prefix)."""
    try:
        text = effects.read_text()
    except FileNotFoundError:
        return []
    return [m for m in text.split("\n") if m]


def _project(root: Path) -> Path:
    from heso_testing.project import make_project

    make_project(root, POLICY)
    return root


@pytest.mark.parametrize("store", ["file", "postgresql"], indirect=True)
def test_sigkilled_writers_leave_a_verifiable_chain_and_no_side_effect_without_evidence(
    tmp_path: Path, clean_heso_env: None, store: Any, figures: Any, soak: bool
) -> None:
    trials = SOAK_TRIALS if soak else TRIALS[store.kind]
    rng = random.Random()
    ctx = multiprocessing.get_context("fork")
    torn_seen = survived = 0
    roots: list[Path] = []
    for trial in range(trials):
        if trial % TRIALS_PER_PROJECT == 0:
            roots.append(_project(tmp_path / f"project-{len(roots)}"))
            torn_before = 0
        root = roots[-1]
        effects = root / "side-effects.log"
        ready = ctx.Event()
        child = ctx.Process(
            target=_gate_forever,
            args=(str(root), str(effects), trial, ready, store.use(root)),
            daemon=True,
        )
        child.start()
        if rng.random() < 0.2:  # sometimes while it starts up and recovers the last crash
            time.sleep(rng.uniform(0.0, 0.15))
        else:  # else at a random point of its loop (a few dozen actions in)
            assert ready.wait(timeout=60)
            time.sleep(rng.uniform(0.0, 0.1 if store.postgresql else 0.04))
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=60)
        assert child.exitcode == -signal.SIGKILL, "the child failed before it was killed"

        ledger = store.reader(root)
        hashes = _hashes(ledger)
        verdict = verify_chain(ledger)
        torn = verdict.code == v.TORN_TAIL
        if torn:
            assert not store.postgresql, verdict  # a transaction is never torn
            torn_seen += 1
            assert verdict.entry == len(hashes), verdict
        else:
            assert verdict.ok, verdict
        in_chain = set(hashes)
        for marker in _markers(effects):
            assert marker in in_chain or any(h.startswith(marker) for h in in_chain), marker
        if torn:  # the next writer recovers it; here: a writer that appends nothing
            writer = store.writer(root, _key(root / "heso-local-data"))
            assert writer.length == len(hashes)
            writer.close()
            torn_before += 1
            after = verify_chain(store.reader(root))
            assert after.ok and after.details["torn_tails_recovered"] == torn_before, after
        survived += 1

    receipts = ran = 0
    for root in roots:
        receipts_here, ran_here = _check_evidence(root, store)
        receipts += receipts_here
        ran += ran_here
    kind = store.kind
    figures.add(f"crash.{kind}.sigkill_trials", trials)
    figures.add(f"crash.{kind}.sigkill_trials_survived", survived)
    figures.add(f"crash.{kind}.torn_tails_reported_and_recovered", torn_seen)
    figures.add(f"crash.{kind}.receipts_after_kills", receipts)
    figures.add(f"crash.{kind}.bodies_that_ran_all_with_receipts", ran)
    assert survived == trials >= 25
    assert ran > trials  # the kills fell amid gating, not before it began


def _killed_mid_write(root: str, effects: str, url: str | None) -> None:
    """A child that SIGKILLs itself halfway through recording a large receipt: on files
    halfway through writing its chain line; in the database after the entry's rows were sent,
    just before its transaction commits."""
    import heso
    from heso import config

    if url is not None:
        os.environ["HESO_STORE"] = url
    heso.init(project_root=root)

    @heso.tool
    def send_report(to: str, api_key: str, card: str, body: str) -> None:
        _append(effects, f"{heso.current_action_hash()}\n")

    send_report("a@example.com", "sk-1", "4111", "small")  # opens the chain
    if url is None:
        chain_fd = config.current().ledger._fd
        real = os.write

        def write(fd: int, data: Any) -> int:
            if fd == chain_fd and len(data) > 100_000:
                real(fd, bytes(data[: len(data) // 2]))
                os.kill(os.getpid(), signal.SIGKILL)
            return real(fd, data)

        os.write = write  # type: ignore[assignment]
    else:
        import psycopg

        execute = psycopg.Cursor.execute

        def kill_before_linking_commits(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
            text = query if isinstance(query, str) else ""
            if text.startswith("EXECUTE heso_link"):
                # The linking round trip is "EXECUTE heso_link (...); COMMIT; <barrier>": send
                # the rows alone, see them in the open transaction, and die before the commit.
                execute(self, text[: text.index("; COMMIT")], *args, **kw)
                rows = execute(self, "SELECT count(*) FROM heso_entries").fetchone()[0]
                assert rows == 2  # the entry is in this open transaction, not yet committed
                os.kill(os.getpid(), signal.SIGKILL)
            return execute(self, query, *args, **kw)

        psycopg.Cursor.execute = kill_before_linking_commits  # type: ignore[method-assign]
    send_report("b@example.com", "sk-2", "4111", "y" * 300_000)


def _one_action(root: str, effects: str, url: str | None) -> None:
    """A child that gates one action and exits normally (sealing the chain)."""
    import heso

    if url is not None:
        os.environ["HESO_STORE"] = url
    heso.init(project_root=root)

    @heso.tool
    def send_report(to: str, api_key: str, card: str, body: str) -> None:
        _append(effects, f"{heso.current_action_hash()}\n")

    send_report("c@example.com", "sk-3", "4111", "after the crash")
    heso.shutdown()


@pytest.mark.parametrize("store", ["file", "postgresql"], indirect=True)
def test_a_receipt_cut_off_by_sigkill_is_never_half_kept_and_the_next_writer_goes_on(
    tmp_path: Path, clean_heso_env: None, store: Any
) -> None:
    """On files the half-written line is reported (``TornTail``), then set aside whole in
    ``receipts.torn`` by the next writer; in the database the killed transaction rolls back
    and leaves nothing. Either way the killed action's body never ran and the next writer
    links to the last complete entry."""
    ctx = multiprocessing.get_context("fork")
    root = _project(tmp_path / "p")
    data_dir, effects = root / "heso-local-data", root / "side-effects.log"
    url = store.use(root)
    child = ctx.Process(target=_killed_mid_write, args=(str(root), str(effects), url))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == -signal.SIGKILL
    hashes = _hashes(store.reader(root))
    assert len(hashes) == 1 and _markers(effects) == hashes  # the 2nd body never ran
    verdict = verify_chain(store.reader(root))
    if store.postgresql:
        assert verdict.ok and verdict.details["entries"] == 1, verdict
    else:
        before = (data_dir / fmt.CHAIN_FILE).read_bytes()
        first_line_end = before.index(b"\n") + 1
        assert verdict.code == v.TORN_TAIL and verdict.entry == 1, verdict
        assert "receipts.torn" in verdict.reason
    child = ctx.Process(target=_one_action, args=(str(root), str(effects), url))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    after = verify_chain(store.reader(root), require_sealed=True)
    assert after.ok and after.details["entries"] == 2, after
    assert after.details["torn_tails_recovered"] == (0 if store.postgresql else 1)
    if not store.postgresql:
        (record,) = [json.loads(x) for x in (data_dir / fmt.TORN_FILE).read_text().splitlines()]
        assert record["offset"] == first_line_end
        assert base64.b64decode(record["bytes_b64"]) == before[first_line_end:]
        assert record["length"] == len(before) - first_line_end > 100_000
    assert _markers(effects) == _hashes(store.reader(root))


_KEYS: dict[Path, Any] = {}


def _key(data_dir: Path) -> Any:
    if data_dir not in _KEYS:
        _KEYS[data_dir] = load_operator_key(data_dir)
    return _KEYS[data_dir]


def _check_evidence(root: Path, store: Any) -> tuple[int, int]:
    """Final checks of one project: chain valid, every body's receipt findable by prefix
    (the index, or the database's lookup column, survived), every committed field's salt
    stored."""
    data_dir = root / "heso-local-data"
    ledger = store.reader(root)
    hashes = _hashes(ledger)
    assert verify_chain(ledger).ok
    markers = [m for m in _markers(root / "side-effects.log") if len(m) == 64]
    for marker in random.sample(markers, min(len(markers), 100)):
        assert ledger.receipt(marker[:16])["content"]["action_hash"] == marker
    salts: dict[str, list[str]] = {}
    for line in (data_dir / "reveal" / "salts.jsonl").read_bytes().split(b"\n"):
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            salts.setdefault(entry["action_hash"], []).append(entry["path"])
    assert all(salts.get(h) == ["api_key"] for h in hashes)
    return len(hashes), len(markers)


# -- a full disk, a read-only or deleted directory, a damaged key ----------------------------


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[bool]:
    """Mount a tmpfs of ``size`` at ``path`` keeping its files; yields False without root."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield False
        return
    saved = path.with_name(path.name + ".saved")
    shutil.copytree(path, saved)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
    )
    if done.returncode != 0:
        shutil.rmtree(saved)
        yield False
        return
    try:
        for item in saved.iterdir():
            if item.is_dir():
                shutil.copytree(item, path / item.name)
            else:
                shutil.copy2(item, path / item.name)
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)
        shutil.rmtree(path)
        saved.rename(path)


class _DiskBudget:
    """Without root: ``os.write`` to files under ``data_dir`` fails with ENOSPC once
    ``budget`` bytes are spent (a short write first, as a real full disk does)."""

    def __init__(self, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.data_dir = str(data_dir.resolve())
        self.budget = 1 << 62
        real = os.write

        def write(fd: int, data: Any) -> int:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                target = ""
            if not target.startswith(self.data_dir):
                return real(fd, data)
            if self.budget <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            chunk = bytes(data)[: self.budget]
            self.budget -= len(chunk)
            return real(fd, chunk)

        monkeypatch.setattr(os, "write", write)


def _file_state(data_dir: Path) -> tuple[list[str], bool]:
    """The file store's bytes as they are: the action_hash of every complete line, and
    whether a partial line follows them (a full disk is a fault of the file store only)."""
    lines = (data_dir / fmt.CHAIN_FILE).read_bytes().split(b"\n")
    return [_hash_of(line) for line in lines[:-1]], lines[-1] != b""


def _gate(body_ran: list[str], size: int, k: int) -> Any:
    from heso.capture import gate

    outcome = gate(
        "tool_call",
        "upload",
        {"to": f"u{k}", "api_key": f"sk-{k}", "card": "4111", "blob": "z" * size},
    )
    body_ran.append(outcome.action_hash)  # the body runs only if the gate returned
    return outcome


def test_a_full_disk_fails_closed_and_loses_nothing(
    tmp_path: Path, clean_heso_env: None, monkeypatch: pytest.MonkeyPatch, figures: Any
) -> None:
    import heso
    from heso.errors import BridgeError, ChainError

    root = _project(tmp_path / "p")
    data_dir = root / "heso-local-data"
    rng = random.Random(5)
    with _tmpfs(data_dir, "1m") as mounted:
        budget = None if mounted else _DiskBudget(data_dir, monkeypatch)
        heso.init(project_root=root)
        body_ran: list[str] = []
        refused = 0
        filler = data_dir / "filler"
        for k in range(40):
            # Leave a random sliver of space, then try an action that may not fit.
            free = rng.choice([0, 50, 400, 3_000, 30_000, 200_000])
            if budget is not None:
                budget.budget = free
            else:
                filler.unlink(missing_ok=True)
                _fill(data_dir, filler, free)
            try:
                _gate(body_ran, rng.choice([10, 2_000, 100_000]), k)
            except BridgeError as exc:
                refused += 1
                text = str(exc)
                assert "No space left on device" in text, text
                assert isinstance(exc.__cause__, (ChainError, OSError))
            if budget is not None:
                budget.budget = 1 << 62
            else:
                filler.unlink(missing_ok=True)
            hashes, torn = _file_state(data_dir)
            assert not torn, "a failed write left a partial line"
            verdict = verify_chain(data_dir)
            assert verdict.ok, verdict
            assert set(body_ran) <= set(hashes)
        assert refused and len(body_ran) < 40  # the disk really filled up, repeatedly
        _gate(body_ran, 10, 99)  # with space again, the gate works
        heso.shutdown()
        for h in body_ran:
            assert FileLedger(data_dir).receipt(h[:20])["content"]["action_hash"] == h
            assert [e.path for e in RevealStore(data_dir / "reveal").lookup(h)] == ["api_key"]
        assert verify_chain(data_dir, require_sealed=True).ok
    figures.add("crash.disk_full_refusals", refused)
    figures.add("crash.disk_full_via_" + ("tmpfs" if mounted else "os.write_budget"), 1)


def _fill(data_dir: Path, filler: Path, leave: int) -> None:
    """Fill the filesystem of ``data_dir`` until about ``leave`` bytes stay free."""
    st = os.statvfs(data_dir)
    free = st.f_bavail * st.f_frsize
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            os.write(fd, b"\0" * max(0, free - leave))
    finally:
        os.close(fd)


def test_a_read_only_data_directory_fails_closed(
    tmp_path: Path, clean_heso_env: None, monkeypatch: pytest.MonkeyPatch, figures: Any
) -> None:
    """A data directory that cannot be written: the gate refuses, every time (a second attempt
    must not succeed where the first failed). A writable descriptor opened before the directory
    became read-only keeps working, as the kernel allows; that is not a failure to report."""
    import heso
    from heso.errors import BridgeError

    root = _project(tmp_path / "p")
    data_dir = root / "heso-local-data"
    heso.init(project_root=root)
    body_ran: list[str] = []
    _gate(body_ran, 10, 0)
    heso.shutdown()
    with _tmpfs(data_dir, "4m") as mounted:
        if mounted:
            how = "tmpfs_remount"
            subprocess.run(["mount", "-o", "remount,ro", str(data_dir)], check=True)
        elif os.geteuid() != 0:
            how = "chmod"
            for path in [data_dir, *data_dir.rglob("*")]:
                path.chmod(0o500 if path.is_dir() else 0o400)
        else:  # root that may not mount: permissions do not stop it, so refuse opens for writing
            how = "os.open_erofs"
            _refuse_writes(data_dir, monkeypatch)
        try:
            heso.init(project_root=root)  # reading the key and policy still works
            for attempt in range(3):
                with pytest.raises(BridgeError) as caught:
                    _gate(body_ran, 10, 1 + attempt)
                text = str(caught.value)
                assert "Read-only file system" in text or "Permission denied" in text, text
            assert len(body_ran) == 1
        finally:
            heso.shutdown()
            monkeypatch.undo()
            if how == "tmpfs_remount":
                subprocess.run(["mount", "-o", "remount,rw", str(data_dir)], check=True)
            elif how == "chmod":
                for path in [data_dir, *data_dir.rglob("*")]:
                    path.chmod(0o700 if path.is_dir() else 0o600)
        assert verify_chain(data_dir).ok
    figures.add(f"crash.read_only_via_{how}", 1)


def _refuse_writes(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``os.open`` for writing, and renames, under ``data_dir`` fail with EROFS."""
    real_open, real_replace = os.open, os.replace
    inside = str(data_dir.resolve())
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def refuse(path: Any) -> None:
        if os.path.abspath(os.fspath(path)).startswith(inside):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & writing:
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        refuse(dst)
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "replace", replace)


def test_a_deleted_data_directory_fails_closed(tmp_path: Path, clean_heso_env: None) -> None:
    import heso
    from heso.errors import BridgeError, HesoConfigError

    root = _project(tmp_path / "p")
    data_dir = root / "heso-local-data"
    heso.init(project_root=root)
    body_ran: list[str] = []
    _gate(body_ran, 10, 0)
    shutil.rmtree(data_dir)  # while the chain is open
    with pytest.raises(BridgeError, match="was deleted while heso had it open"):
        _gate(body_ran, 10, 1)
    assert len(body_ran) == 1
    with pytest.raises(HesoConfigError, match="key file not found") as caught:
        heso.init(project_root=root)  # a fresh start
    assert "heso init" in str(caught.value)
    heso.shutdown()
    with pytest.raises(HesoConfigError, match="not initialised"):
        _gate(body_ran, 10, 2)
    assert len(body_ran) == 1


def _damage(raw: bytes, how: str) -> bytes:
    doc = json.loads(raw)
    if how == "truncated":
        return raw[: len(raw) // 2]
    if how == "empty":
        return b""
    if how == "garbage":
        return os.urandom(300)
    if how == "deeply nested":
        return b"[" * 50_000
    if how == "flipped ciphertext bit":
        ct = bytearray(doc["cipher"]["ciphertext"].encode())
        ct[5] = ord("A") if ct[5] != ord("A") else ord("B")
        doc["cipher"]["ciphertext"] = ct.decode()
    elif how == "other public key":
        doc["public_key"] = "ed25519:" + "11" * 32
    elif how == "weaker kdf":
        doc["kdf"]["opslimit"] = 1
    elif how == "unknown version":
        doc["version"] = 99
    elif how == "wrong type":
        doc["kdf"] = "argon2id"
    elif how == "huge memlimit":
        doc["kdf"]["memlimit"] = 2**50
    return json.dumps(doc).encode()


DAMAGE = (
    "truncated",
    "empty",
    "garbage",
    "deeply nested",
    "flipped ciphertext bit",
    "other public key",
    "weaker kdf",
    "unknown version",
    "wrong type",
    "huge memlimit",
)


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_key_file_is_a_clear_error_and_nothing_runs(
    tmp_path: Path, clean_heso_env: None, how: str
) -> None:
    import heso
    from heso.errors import HesoConfigError

    root = _project(tmp_path / "p")
    key_file = root / "heso-local-data" / "operator.key"
    key_file.write_bytes(_damage(key_file.read_bytes(), how))
    with pytest.raises(HesoConfigError) as caught:
        heso.init(project_root=root)
    text = str(caught.value)
    assert str(key_file) in text and len(text) < 400, text
    body_ran: list[str] = []
    with pytest.raises(HesoConfigError, match="not initialised"):
        _gate(body_ran, 10, 0)
    assert body_ran == []
    # The CLI says the same in one line, without a traceback.
    done = subprocess.run(
        [sys.executable, "-m", "heso", "init", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
