"""The ledger's format, whatever keeps it: entry lines, entry hashes and the signed head.

An entry is the RFC 8785 form of ``{"prev": <hex>, "receipt": <signed receipt>, "seq": <n>}``;
its hash is BLAKE3 of that line (without a newline); ``prev`` is the previous entry's hash (64
zeros for the first). The head is the operator's signature over the length, the last hash and
the byte size of the ledger's file form (every line followed by one ``\\n``), so truncating the
tail or rewriting history is detectable. The file form (:data:`CHAIN_FILE`, :data:`HEAD_FILE`)
is what the file store keeps and what an export writes (``docs/spec/chain.md``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import blake3

from heso import verdict as v
from heso.canonical import canonical_bytes, loads_strict
from heso.errors import CanonicalizationError, ChainError
from heso.keys import PublicKey, SigningKey
from heso.receipt import format_timestamp
from heso.verdict import Verdict

CHAIN_FILE = "receipts.jsonl"
HEAD_FILE = "chain.head.json"
TORN_FILE = "receipts.torn"
"""Torn last lines a file store recovered from killed writers (one JSON record a line)."""
GENESIS = "0" * 64
HEAD_ALG = "heso-chain-head/v1+ed25519"
HEAD_DOMAIN = b"heso-chain-head/v1\n"
ENTRY_KEYS = frozenset({"prev", "receipt", "seq"})
MAX_ENTRY_BYTES = 16 * 1024 * 1024
"""The longest line (without its newline) a writer appends and the verifier reads; the
verifier reports a longer line as ``MalformedEntry`` without holding it in memory. Read it as
``format.MAX_ENTRY_BYTES`` (tests lower it)."""
MAX_HEAD_BYTES = 64 * 1024
"""A head document larger than this is ``HeadInvalid``."""
_HEX128 = re.compile(r"[0-9a-f]{128}").fullmatch


def too_long(line: bytes) -> ChainError:
    """The refusal of an entry ``line`` longer than :data:`MAX_ENTRY_BYTES`."""
    return ChainError(
        f"refusing to append a {len(line)}-byte entry: the limit is {MAX_ENTRY_BYTES} bytes; "
        "redact large fields (strategy destroy) or pass a digest of the payload instead"
    )


@dataclass(frozen=True, init=False)
class Entry:
    """Where an appended receipt landed: its ``seq``, its entry hash and the byte ``offset`` of
    its line in the ledger's file form."""

    seq: int
    entry_hash: str
    offset: int

    def __init__(self, seq: int, entry_hash: str, offset: int) -> None:
        # One dict update instead of three object.__setattr__ calls: one per append.
        self.__dict__.update(seq=seq, entry_hash=entry_hash, offset=offset)


@dataclass(frozen=True)
class Head:
    """A verified signed head."""

    length: int
    head: str
    size: int
    operator: PublicKey
    sealed_at: str


def entry_hash(line: bytes) -> str:
    """Hash of one entry line (without its newline)."""
    return blake3.blake3(line).hexdigest()


def encode_entry(seq: int, prev: str, receipt: Mapping[str, Any]) -> bytes:
    """The canonical line (without newline) of one entry.

    A freshly minted receipt carries its canonical bytes, so the line is spliced, not
    re-serialized; the result equals ``JCS({"prev", "receipt", "seq"})``.
    """
    encoded = getattr(receipt, "canonical", None)
    if encoded is None:
        encoded = canonical_bytes(receipt)
    return b'{"prev":"%s","receipt":%s,"seq":%d}' % (prev.encode("ascii"), encoded, seq)


def action_hash_of_line(line: bytes) -> str:
    """The ``action_hash`` of the receipt in an entry line (strictly parsed)."""
    entry = loads_strict(line.rstrip(b"\n"))
    return str(entry["receipt"]["content"]["action_hash"])


def head_message(content: Mapping[str, Any]) -> bytes:
    """The bytes the operator signs for a head."""
    return HEAD_DOMAIN + canonical_bytes(content)


def sign_head(key: SigningKey, length: int, head: str, size: int) -> dict[str, Any]:
    """A signed head document."""
    content = {
        "head": head,
        "length": length,
        "operator": key.public_key().to_str(),
        "sealed_at": format_timestamp(datetime.now(timezone.utc)),
        "size": size,
    }
    return {"alg": HEAD_ALG, "content": content, "signature": key.sign(head_message(content)).hex()}


def head_bytes(doc: Mapping[str, Any]) -> bytes:
    """A head document as stored: sorted-key JSON and a newline."""
    return json.dumps(doc, sort_keys=True).encode() + b"\n"


def parse_head(raw: bytes) -> Head | Verdict:
    """The verified head in ``raw`` (at most :data:`MAX_HEAD_BYTES` + 1 bytes read), or a
    ``HeadInvalid`` verdict."""
    if len(raw) > MAX_HEAD_BYTES:
        return v.fail(v.HEAD_INVALID, f"{HEAD_FILE} is larger than {MAX_HEAD_BYTES} bytes")
    try:
        doc = loads_strict(raw)
        content = doc["content"]
        if doc["alg"] != HEAD_ALG or set(doc) != {"alg", "content", "signature"}:
            raise ValueError("unexpected head shape")
        operator = PublicKey.from_str(content["operator"])
        length, head, size = content["length"], content["head"], content["size"]
        if not (isinstance(length, int) and isinstance(size, int) and isinstance(head, str)):
            raise ValueError("bad head field types")
        if not isinstance(doc["signature"], str) or not _HEX128(doc["signature"]):
            raise ValueError("signature must be 128 lowercase hex digits")
        sig = bytes.fromhex(doc["signature"])
        sealed_at = content["sealed_at"]
    except (CanonicalizationError, ValueError, KeyError, TypeError) as exc:
        return v.fail(v.HEAD_INVALID, f"{HEAD_FILE} is malformed: {exc}")
    if not operator.verify(sig, head_message(content)):
        return v.fail(v.HEAD_INVALID, f"{HEAD_FILE} signature does not verify")
    return Head(length, head, size, operator, sealed_at)
