"""Asking witnesses for cosignatures with the C2SP ``tlog-witness`` protocol.

:class:`WitnessClient` sends one add-checkpoint request and returns the witness's verified
cosignature. :func:`request_cosignature` handles the protocol's 409 answer: it learns the size
the witness has and retries once with a proof from that size; a witness that has seen a larger
tree than the one offered means the log was rolled back or forked, and is reported as such.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Sequence
from typing import Final
from urllib.parse import urlsplit

from heso.errors import TransparencyError, WitnessError
from heso.transparency.checkpoint import Checkpoint
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.note import Signature, parse_note
from heso.transparency.proof import ConsistencyProof

__all__ = ["Prover", "WitnessClient", "add_cosignatures", "request_cosignature"]

MAX_RESPONSE_BYTES: Final = 64 * 1024

Prover = Callable[[int, int], Sequence[bytes]]
"""``prove(old_size, new_size)``: the log's consistency proof between two of its sizes."""


class WitnessClient:
    """One witness: its submission URL prefix and its cosignature key (keeps its connection)."""

    def __init__(self, url: str, key: CosignatureVerifier, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransparencyError(f"a witness URL is http(s)://host[:port][/prefix], not {url!r}")
        self.url = url.rstrip("/")
        self.key = key
        self._parts = parts
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._parts.hostname or "", self._parts.port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, body: bytes) -> tuple[int, bytes]:
        path = (self._parts.path.rstrip("/") or "") + "/add-checkpoint"
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            conn = self._connection()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read(MAX_RESPONSE_BYTES + 1)
                return response.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
            except OSError:
                self.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def add_checkpoint(
        self, signed_checkpoint: bytes, old_size: int, proof: Sequence[bytes]
    ) -> Signature:
        """Submit the checkpoint with a proof from ``old_size``; returns the witness's
        cosignature, verified against its key. Raises :class:`WitnessError` (``status`` and,
        on 409, ``latest_size``)."""
        body = ConsistencyProof(old_size, tuple(proof), signed_checkpoint).to_bytes()
        try:
            status, data = self._post(body)
        except OSError as exc:
            raise WitnessError(f"witness {self.url} unreachable: {exc}") from None
        if status == 409:
            text = data.decode("ascii", "replace")
            if not text.endswith("\n") or not text[:-1].isdigit():
                raise WitnessError(f"witness {self.url}: malformed 409 answer", status=409)
            raise WitnessError(
                f"witness {self.url} has cosigned size {int(text)}, not {old_size}",
                status=409,
                latest_size=int(text),
            )
        if status != 200:
            reason = data[:300].decode("utf-8", "replace").strip()
            raise WitnessError(f"witness {self.url} refused ({status}): {reason}", status=status)
        return self._cosignature(signed_checkpoint, data)

    def _cosignature(self, signed_checkpoint: bytes, data: bytes) -> Signature:
        """The valid cosignature by this witness's key among the response's signature lines."""
        text = parse_note(signed_checkpoint).text
        try:
            lines = parse_note(text.encode() + b"\n" + data).signatures
        except TransparencyError as exc:
            raise WitnessError(
                f"witness {self.url}: malformed answer ({exc})", status=200
            ) from None
        key = self.key
        for sig in lines:
            if (sig.name, sig.key_id) != (key.name, key.key_id):
                continue  # another key of the witness: ignored
            if not key.verify(text.encode(), sig.signature):
                raise WitnessError(
                    f"witness {self.url} answered with a cosignature that does not verify",
                    status=200,
                )
            if CosignatureVerifier.timestamp(sig.signature) == 0:
                raise WitnessError(f"witness {self.url} cosigned without a time", status=200)
            return sig
        raise WitnessError(f"witness {self.url} answered without a cosignature by {key.name}")


def request_cosignature(
    client: WitnessClient, signed_checkpoint: bytes, prove: Prover, *, known_size: int = 0
) -> Signature:
    """Ask ``client`` to cosign; ``known_size`` is the size this witness last cosigned (0 if
    unknown). On a 409 the request is repeated once from the size the witness reports."""
    checkpoint = Checkpoint.from_text(parse_note(signed_checkpoint).text)

    def ask(old: int) -> Signature:
        if old > checkpoint.size:
            raise WitnessError(
                f"witness {client.url} has cosigned {checkpoint.origin!r} at size {old}, larger "
                f"than this checkpoint's {checkpoint.size}: the log was rolled back or forked",
                status=409,
                latest_size=old,
            )
        proof = prove(old, checkpoint.size) if 0 < old < checkpoint.size else ()
        return client.add_checkpoint(signed_checkpoint, old, proof)

    start = known_size if known_size <= checkpoint.size else 0
    try:
        return ask(start)
    except WitnessError as exc:
        if exc.status != 409 or exc.latest_size is None or exc.latest_size == start:
            raise
        return ask(exc.latest_size)


def add_cosignatures(signed_checkpoint: bytes, cosignatures: Sequence[Signature]) -> bytes:
    """The checkpoint note with ``cosignatures`` added (each replaces an older one by its key)."""
    return parse_note(signed_checkpoint).with_signatures(cosignatures).to_bytes()
