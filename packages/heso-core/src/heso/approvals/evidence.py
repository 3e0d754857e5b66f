"""Firing evidence: an approved action's firing lives in the sealed audit chain.

When an approved action fires, heso appends its **firing receipt** to the operator's chain,
under the session's lock and exactly-once claim, and seals the chain before the body runs: the
L1 receipt when approvers co-signed it, else the suspended receipt itself (an operator or
timeout approval, L0). No new kind of chain entry: the firing is the action's receipt
appearing in the chain after its suspension. The signed head makes removing it detectable
(``heso verify --chain --sealed``), and before any firing heso looks for it in the chain
itself, not in the derived index, so deleting ``approvals/`` files never lets an action fire
twice.

An entry of the action's hash is a firing unless a signed lifecycle record names it as
something else: the suspension (the opening record's ``chain`` link) or a finalization made
without firing (``finalize_l1``/``finalize_quorum``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heso.approvals.state import SessionState
from heso.canonical import loads_strict
from heso.ledger.format import encode_entry, entry_hash
from heso.ledger.store import LedgerReader


def firings(ledger: LedgerReader, st: SessionState) -> list[dict[str, Any]]:
    """``{"seq", "entry_hash"}`` of every chain entry recording a firing of ``st``'s action."""
    links = [rec.get("chain") for rec in (st.opening, *st.finalizations)]
    exempt = {link.get("entry_hash") for link in links if isinstance(link, Mapping)}
    suspension = st.opening.get("chain")
    start = _start_of(ledger, st.action_hash, suspension)
    out = []
    for seq, line in ledger.scan(st.action_hash, start):
        h = entry_hash(line)
        if h not in exempt:
            out.append({"seq": seq, "entry_hash": h})
    if not isinstance(suspension, Mapping) and out:
        out.pop(0)  # a suspension recorded without its link: its own entry comes first
    return out


def _start_of(ledger: LedgerReader, action_hash: str, link: Any) -> int:
    """The position of the suspension entry ``link`` names, found through the store's lookup
    and checked against the entry itself; 0 (scan the whole chain) when it cannot be trusted."""
    if not isinstance(link, Mapping):
        return 0
    try:
        hits = ledger.find(action_hash)
    except (OSError, ValueError):
        return 0
    for _, seq in hits:
        try:
            entry = loads_strict(ledger.line(seq))
            line = encode_entry(entry["seq"], entry["prev"], entry["receipt"])
        except Exception:
            continue
        if entry_hash(line) == link.get("entry_hash"):
            return seq
    return 0
