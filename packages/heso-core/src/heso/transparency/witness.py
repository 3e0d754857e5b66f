"""A C2SP ``tlog-witness``: cosign a log's checkpoint only if it extends the last one seen.

:class:`Witness` is the protocol without HTTP (``witness_server`` puts it on the network). For
each log it trusts (origin and log keys) it keeps the latest checkpoint it cosigned, in one file
per log under ``<state>/logs/``, replaced atomically and fsynced *before* it answers, and it
checks and replaces that state under one lock per log, so two concurrent requests can never roll
it back. The files carry the witness's own cosignature and are re-verified when read: a state
file edited by someone else fails closed for that log.

Refusals follow the spec: 400 malformed request, 403 no valid trusted log signature, 404 unknown
log, 409 wrong old size (body: the size it has, ``text/x.tlog.size``), 422 proof or root hash
that does not check out. They are raised as :class:`~heso.errors.WitnessError` with ``status``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from heso import durable
from heso.errors import TransparencyError, WitnessError
from heso.transparency.checkpoint import Checkpoint
from heso.transparency.cosignature import CosignatureSigner, CosignatureVerifier
from heso.transparency.merkle import EMPTY_ROOT, verify_consistency
from heso.transparency.note import Note, Signature, Verifier, open_note, parse_note
from heso.transparency.proof import ConsistencyProof

__all__ = ["SIZE_CONTENT_TYPE", "Witness", "origin_hash"]

SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"
"""Content type of a 409 answer: the size the witness has, in decimal, and a newline."""
LOCK_FILE: Final = "witness.lock"
LOGS_DIR: Final = "logs"


def origin_hash(origin: str) -> str:
    """Lowercase hex SHA-256 of a log's origin: its name in URLs and state files."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Latest:
    size: int
    root: bytes
    timestamp: int
    note: bytes


_NOTHING_YET: Final = _Latest(0, EMPTY_ROOT, 0, b"")


class Witness:
    """Cosigns checkpoints of the logs in ``logs`` (origin → trusted log keys) with ``signer``,
    keeping its state in ``state_dir`` (one witness process per directory).

    Cosignature times come from the signer's clock and never go backwards for one log.
    """

    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Sequence[Verifier]],
        state_dir: str | os.PathLike[str],
    ) -> None:
        if not logs:
            raise TransparencyError("a witness needs at least one log to witness")
        for origin, keys in logs.items():
            if not keys:
                raise TransparencyError(f"log {origin!r} has no keys to verify it with")
            Checkpoint(origin, 0, EMPTY_ROOT)  # a valid origin line
        self.signer = signer
        self._verifier = signer.verifier()
        self._logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self._by_hash = {origin_hash(o): o for o in self._logs}
        self._dir = Path(state_dir)
        (self._dir / LOGS_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_fd: int | None = os.open(
            self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise TransparencyError(
                f"another witness is running on {self._dir}: one process per state directory"
            ) from None
        self._locks = {origin: threading.Lock() for origin in self._logs}

    @property
    def logs(self) -> tuple[str, ...]:
        """The origins this witness cosigns."""
        return tuple(self._logs)

    def close(self) -> None:
        """Release the state directory."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Witness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- add-checkpoint ------------------------------------------------------------------------

    def add_checkpoint(self, body: bytes) -> bytes:
        """Handle one add-checkpoint request body; returns the response body (the witness's
        cosignature line) or raises :class:`WitnessError` with the HTTP status."""
        # Parse: the old size, the proof and the note (400 when any is malformed).
        try:
            request = ConsistencyProof.from_bytes(body)
            note = parse_note(request.checkpoint)
            checkpoint = Checkpoint.from_text(note.text)
        except TransparencyError as exc:
            raise WitnessError(f"malformed request: {exc}", status=400) from None
        # The log must be one this witness knows (404) and have signed it (403).
        keys = self._logs.get(checkpoint.origin)
        if keys is None:
            raise WitnessError(f"unknown log {checkpoint.origin!r}", status=404)
        try:
            opened = open_note(note, keys)
        except TransparencyError as exc:
            raise WitnessError(f"invalid signature: {exc}", status=403) from None
        if request.old_size > checkpoint.size:
            raise WitnessError(
                f"old size {request.old_size} is larger than the checkpoint's {checkpoint.size}",
                status=400,
            )
        with self._locks[checkpoint.origin]:
            latest = self._load(checkpoint.origin)
            if request.old_size != latest.size:
                raise WitnessError(
                    f"old size {request.old_size} is not the latest cosigned size {latest.size}",
                    status=409,
                    latest_size=latest.size,
                )
            self._check_extends(latest, checkpoint, request.path)
            timestamp = max(int(self.signer.clock()), latest.timestamp, 1)
            raw = self.signer.sign(note.text.encode(), timestamp)
            cosignature = Signature(self.signer.name, self.signer.key_id, raw)
            log_signatures = tuple(v.signature for v in opened.verified)
            stored = Note(note.text, (*log_signatures, cosignature)).to_bytes()
            self._store(checkpoint.origin, stored)
        return cosignature.line().encode()

    @staticmethod
    def _check_extends(latest: _Latest, checkpoint: Checkpoint, proof: Sequence[bytes]) -> None:
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            raise WitnessError(
                "a checkpoint of size 0 must carry the empty tree's root", status=422
            )
        if latest.size == 0:
            if proof:
                raise WitnessError("a consistency proof from size 0 must be empty", status=422)
            return
        try:
            verify_consistency(latest.size, checkpoint.size, latest.root, checkpoint.root, proof)
        except TransparencyError as exc:
            raise WitnessError(f"bad consistency proof: {exc}", status=422) from None

    # -- monitoring ----------------------------------------------------------------------------

    def latest_checkpoint(self, origin_hex: str) -> bytes:
        """The latest cosigned checkpoint of the log whose origin hashes to ``origin_hex``,
        with the log's signatures and this witness's cosignature (404 if none)."""
        origin = self._by_hash.get(origin_hex)
        if origin is None:
            raise WitnessError("unknown log", status=404)
        with self._locks[origin]:
            latest = self._load(origin)
        if not latest.note:
            raise WitnessError(f"no checkpoint of {origin!r} cosigned yet", status=404)
        return latest.note

    # -- state ---------------------------------------------------------------------------------

    def _path(self, origin: str) -> Path:
        return self._dir / LOGS_DIR / origin_hash(origin)

    def _load(self, origin: str) -> _Latest:
        """The latest cosigned checkpoint of ``origin``, re-verified (the caller holds its lock)."""
        try:
            data = self._path(origin).read_bytes()
        except FileNotFoundError:
            return _NOTHING_YET
        except OSError as exc:
            raise WitnessError(f"cannot read the state of {origin!r}: {exc}", status=500) from None
        try:
            opened = open_note(data, [self._verifier])
            checkpoint = Checkpoint.from_text(opened.text)
            if checkpoint.origin != origin:
                raise TransparencyError(f"it holds a checkpoint of {checkpoint.origin!r}")
            sig = opened.verified[0].signature.signature
        except TransparencyError as exc:
            raise WitnessError(
                f"the stored state of {origin!r} does not verify ({exc}); refusing to cosign "
                "until an operator restores it",
                status=500,
            ) from None
        return _Latest(checkpoint.size, checkpoint.root, CosignatureVerifier.timestamp(sig), data)

    def _store(self, origin: str, note: bytes) -> None:
        try:
            durable.write_private(self._path(origin), note)
        except OSError as exc:
            raise WitnessError(
                f"cannot record the checkpoint of {origin!r} ({exc}); not cosigned", status=500
            ) from None
