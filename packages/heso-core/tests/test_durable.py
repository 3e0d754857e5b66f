"""heso.durable: atomic and private writes, directory fsync, locked append with torn-line
repair, exactly-once creation."""

from __future__ import annotations

import errno
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from heso import durable


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_replaces_whole_private_and_synced(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    durable.atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) == 0o600
    assert synced == ["file", "dir"]  # the data, then the rename
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    synced.clear()
    durable.atomic_write(target, b"newer", sync=False)
    assert target.read_bytes() == b"newer" and synced == []


def test_a_failed_rename_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def refuse(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        durable.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_write_private_creates_a_private_directory(tmp_path):
    target = tmp_path / "a" / "b" / "note"
    durable.write_private(target, b"x")
    assert target.read_bytes() == b"x" and _mode(target) == 0o600
    assert _mode(target.parent) == 0o700


def test_exclusive_writes_never_replace(tmp_path):
    target = tmp_path / "claim"
    assert durable.create_exclusive(target, b"first")
    assert not durable.create_exclusive(target, b"second")
    with pytest.raises(FileExistsError):
        durable.atomic_write(target, b"third", exclusive=True)
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["claim"]


def _claim(path: str, who: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results.put((who, durable.create_exclusive(Path(path), b"%d" % who)))


def test_exactly_one_process_creates_the_file(tmp_path):
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    target = tmp_path / "fired"
    procs = [ctx.Process(target=_claim, args=(str(target), i, results)) for i in range(8)]
    for p in procs:
        p.start()
    won = [who for who, ok in (results.get(timeout=60) for _ in procs) if ok]
    for p in procs:
        p.join(timeout=60)
    assert len(won) == 1 and target.read_bytes() == b"%d" % won[0]


def test_remove_stale_temps_removes_only_the_files_temps(tmp_path):
    target = tmp_path / "chain.head.json"
    mine = [tmp_path / ".chain.head.json.abc.tmp", tmp_path / ".chain.head.json.1.2.tmp"]
    others = [tmp_path / ".other.json.abc.tmp", tmp_path / "chain.head.json.tmp", target]
    for p in mine + others:
        p.write_bytes(b"x")
    assert durable.remove_stale_temps(target) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in others)


def test_locked_append_truncates_a_torn_last_line(tmp_path):
    log = tmp_path / "lifecycle.jsonl"
    log.write_bytes(b"one\ntwo\nthr")
    with durable.locked_append(log) as f:
        assert f.read() == b"one\ntwo\n"
        assert f.write(b"three\n") == 8
    assert log.read_bytes() == b"one\ntwo\nthree\n" and _mode(log) == 0o600


def test_locked_append_can_end_a_torn_line_instead(tmp_path):
    log = tmp_path / "salts.jsonl"
    log.write_bytes(b"one\ntw")
    os.chmod(log, 0o644)
    with durable.locked_append(log, torn="newline", sync=False) as f:
        f.write(b"three\n")
    assert log.read_bytes() == b"one\ntw\nthree\n" and _mode(log) == 0o600


def test_a_failed_append_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"one\n")
    real = os.write

    def full(fd: int, data: bytes) -> int:
        if len(data) > 4:
            return real(fd, bytes(data)[:3])  # a short write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space"), durable.locked_append(log) as f:
        f.write(b"a longer line\n")
    monkeypatch.undo()
    assert log.read_bytes() == b"one\n"


def _append_many(path: str, who: int) -> None:
    for i in range(50):
        with durable.locked_append(Path(path), sync=False) as f:
            f.write(b"%d-%d " % (who, i) + b"x" * 3000 + b"\n")


def test_concurrent_appenders_never_interleave(tmp_path):
    ctx = multiprocessing.get_context("fork")
    log = tmp_path / "log"
    procs = [ctx.Process(target=_append_many, args=(str(log), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    lines = log.read_bytes().split(b"\n")[:-1]
    assert len(lines) == 200 and all(line.endswith(b" " + b"x" * 3000) for line in lines)
