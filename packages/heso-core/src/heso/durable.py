"""Durable file writes, done one way: atomic replace, private files, directory fsync, locked
append.

Every file heso writes is private (mode 0600, in directories of mode 0700) and is either
replaced whole (:func:`atomic_write`: a temp file in the same directory, ``fsync``, rename, then
``fsync`` of the directory so the rename itself survives a power cut) or appended to
(:func:`locked_append`: one ``O_APPEND`` descriptor under an exclusive ``flock``; a torn last
line left by a killed writer is repaired first; a failed write leaves no partial line).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

TEMP_SUFFIX = ".tmp"
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)

Torn = Literal["truncate", "newline"]
"""What :func:`locked_append` does with a last line that lacks its newline: ``truncate`` drops
it (it was never acknowledged), ``newline`` ends it so the new lines start fresh (a reader
skips the malformed line)."""


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """``fsync`` a directory, so renames and creations in it survive a power cut (best effort:
    some filesystems refuse to sync a directory)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_private_dir(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` (and its parents) with mode 0700 if it does not exist."""
    path = Path(directory)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_all(fd: int, data: bytes, *, rollback_to: int | None = None) -> None:
    """Write every byte of ``data`` to ``fd`` (a short write, as on a full disk, is continued:
    the next write says why or finishes); on an error, truncate back to ``rollback_to``."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        if rollback_to is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, rollback_to)
        raise


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, sync: bool = True, exclusive: bool = False
) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old file or the new one.

    The data goes to a private temp file beside ``path``, is ``fsync``ed (``sync``), renamed
    over ``path``, and the directory is ``fsync``ed (``sync``). ``exclusive``: never replace,
    raise :class:`FileExistsError` when ``path`` exists (the new file appears whole, with a hard
    link). A failure leaves no temp file behind.
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
    try:
        try:
            write_all(fd, data)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            _link_new(temp, path)
        else:
            os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    if sync:
        fsync_dir(path.parent)


def write_private(path: str | os.PathLike[str], data: bytes, *, exclusive: bool = False) -> None:
    """:func:`atomic_write` with ``fsync``, creating the parent directory (mode 0700) first."""
    path = Path(path)
    make_private_dir(path.parent)
    atomic_write(path, data, exclusive=exclusive)


def create_exclusive(path: str | os.PathLike[str], data: bytes) -> bool:
    """Create ``path`` holding ``data``, durably, unless it exists: ``True`` for the one caller
    (in any thread or process) that created it, ``False`` for everyone else."""
    try:
        atomic_write(path, data, exclusive=True)
    except FileExistsError:
        return False
    return True


def _link_new(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        # No hard links on this filesystem: fall back to a check-then-rename.
        if os.path.lexists(target):
            raise FileExistsError(target) from None
        os.replace(source, target)


def remove_stale_temps(path: str | os.PathLike[str]) -> int:
    """Delete temp files :func:`atomic_write` left beside ``path`` (a writer was killed between
    creating and renaming one); returns how many. Call it holding the lock every writer of
    ``path`` holds, so no temp file can belong to a writer still at work."""
    path = Path(path)
    prefix = f".{path.name}."
    removed = 0
    try:
        names = os.listdir(path.parent)
    except OSError:
        return 0
    for name in names:
        if name.startswith(prefix) and name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)
                removed += 1
    return removed


class Appender:
    """An open append-only file under its lock (see :func:`locked_append`)."""

    def __init__(self, fd: int, *, sync: bool, torn: Torn) -> None:
        self.fd = fd
        self.sync = sync
        self.size = os.fstat(fd).st_size
        self._lead = b""
        if self.size and os.pread(fd, 1, self.size - 1) != b"\n":
            if torn == "newline":
                self._lead = b"\n"
            else:
                end = self.read().rfind(b"\n") + 1
                os.ftruncate(fd, end)
                self.size = end

    def read(self) -> bytes:
        """The whole file (after the repair of a torn last line)."""
        return os.pread(self.fd, self.size, 0) if self.size else b""

    def write(self, data: bytes) -> int:
        """Append ``data`` (whole lines) and ``fsync`` it (``sync``); returns the offset it
        starts at. A failed write leaves the file as it was."""
        data = self._lead + data
        before = self.size
        write_all(self.fd, data, rollback_to=before)
        if self.sync:
            try:
                os.fsync(self.fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, before)
                raise
        self._lead = b""
        self.size = before + len(data)
        return before


@contextlib.contextmanager
def locked_append(
    path: str | os.PathLike[str], *, sync: bool = True, torn: Torn = "truncate"
) -> Iterator[Appender]:
    """Open ``path`` for appending (created private, mode 0600) under an exclusive ``flock``
    held until the block ends: concurrent threads and processes never interleave lines."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS, 0o600)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield Appender(fd, sync=sync, torn=torn)
    finally:
        os.close(fd)  # also releases the flock
