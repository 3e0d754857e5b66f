"""Gathering the configured witnesses' cosignatures on a ledger's latest checkpoint.

For each witness of ``[heso.transparency]`` heso sends a C2SP ``tlog-witness`` add-checkpoint
request with a consistency proof from the size the witness last cosigned (learned from a 409
answer when unknown), verifies the cosignature it returns, and keeps the checkpoint with every
cosignature gathered. A witness that refuses (it saw a larger or different tree) is reported,
never ignored: the log was rolled back or forked, or the witness is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heso.errors import WitnessError
from heso.ledger.store import LedgerStore
from heso.transparency.note import Signature
from heso.transparency.settings import TransparencySettings
from heso.transparency.witness_client import WitnessClient, add_cosignatures, request_cosignature

__all__ = ["CosignResult", "cosign_latest"]


@dataclass
class CosignResult:
    """The checkpoint as kept (with the cosignatures gathered) and what each witness said."""

    note: bytes
    cosigned_by: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.refused


def cosign_latest(
    ledger: LedgerStore, settings: TransparencySettings, *, timeout: float = 10.0
) -> CosignResult:
    """Issue a checkpoint now and ask every configured witness to cosign it."""
    note = ledger.checkpoint()
    tree = ledger.merkle_tree()
    gathered: list[Signature] = []
    result = CosignResult(note)
    for w in settings.witnesses:
        client = WitnessClient(w.url, w.key, timeout=timeout)
        try:
            gathered.append(request_cosignature(client, note, tree.consistency_proof))
            result.cosigned_by.append(w.name)
        except WitnessError as exc:
            result.refused[w.name] = str(exc)
        finally:
            client.close()
    if gathered:
        result.note = add_cosignatures(note, gathered)
        ledger.keep_cosigned(result.note)
    return result
