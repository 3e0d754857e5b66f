"""Where a log keeps the checkpoints it issued (each with the cosignatures gathered for it).

:class:`CheckpointStore` is what every ledger store provides; :class:`FileCheckpointStore` keeps
one note per checkpoint in ``heso-local-data/checkpoints/<size, 20 digits>.note``, each written
atomically, so a checkpoint is either there whole or not at all. A database keeps them as rows
keyed by size.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final, Protocol

from heso import durable
from heso.errors import TransparencyError
from heso.transparency.note import MAX_NOTE_BYTES

__all__ = ["CHECKPOINTS_DIR", "CheckpointStore", "FileCheckpointStore"]

CHECKPOINTS_DIR: Final = "checkpoints"
_NAME = re.compile(r"([0-9]{20})\.note")


class CheckpointStore(Protocol):
    """The signed checkpoints of one log, by tree size (one per size: the latest cosigned
    copy replaces the one before)."""

    def sizes(self) -> list[int]:
        """The sizes checkpoints were issued at, ascending."""
        ...

    def get(self, size: int) -> bytes | None:
        """The signed checkpoint note at ``size``, or ``None``."""
        ...

    def put(self, size: int, note: bytes) -> None:
        """Keep ``note`` as the checkpoint at ``size`` (durably when the store syncs)."""
        ...


class FileCheckpointStore:
    """A :class:`CheckpointStore` in a directory, one file per checkpoint."""

    def __init__(self, directory: str | os.PathLike[str], *, sync: bool = True) -> None:
        self.directory = Path(directory)
        self.sync = sync

    def _path(self, size: int) -> Path:
        if type(size) is not int or size < 0:
            raise TransparencyError(f"invalid checkpoint size {size!r}")
        return self.directory / f"{size:020d}.note"

    def sizes(self) -> list[int]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := _NAME.fullmatch(n)))

    def get(self, size: int) -> bytes | None:
        try:
            with open(self._path(size), "rb") as f:
                data = f.read(MAX_NOTE_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(data) > MAX_NOTE_BYTES:
            raise TransparencyError(f"{self._path(size)} is larger than a checkpoint can be")
        return data

    def put(self, size: int, note: bytes) -> None:
        durable.make_private_dir(self.directory)
        durable.remove_stale_temps(self._path(size))
        durable.atomic_write(self._path(size), note, sync=self.sync)

    def latest(self) -> bytes | None:
        """The checkpoint of the largest size, or ``None``."""
        sizes = self.sizes()
        return self.get(sizes[-1]) if sizes else None
