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
from pathlib import Path
from typing import Any

from heso import chain as _chain
from heso.approvals.state import SessionState
from heso.canonical import loads_strict


def firings(data_dir: str | Path, st: SessionState) -> list[dict[str, Any]]:
    """``{"seq", "entry_hash"}`` of every chain entry recording a firing of ``st``'s action."""
    links = [rec.get("chain") for rec in (st.opening, *st.finalizations)]
    exempt = {link.get("entry_hash") for link in links if isinstance(link, Mapping)}
    suspension = st.opening.get("chain")
    start = _offset_of(data_dir, st.action_hash, suspension)
    out = []
    for _, line in _chain.scan(data_dir, st.action_hash, start):
        entry_hash = _chain.entry_hash(line)
        if entry_hash not in exempt:
            out.append({"seq": loads_strict(line)["seq"], "entry_hash": entry_hash})
    if not isinstance(suspension, Mapping) and out:
        out.pop(0)  # a suspension recorded without its link: its own entry comes first
    return out


def _offset_of(data_dir: str | Path, action_hash: str, link: Any) -> int:
    """The byte offset of the suspension entry ``link`` names, found through the index and
    checked against the entry itself; 0 (scan the whole chain) when it cannot be trusted."""
    if not isinstance(link, Mapping):
        return 0
    try:
        hits = _chain.find(data_dir, action_hash)
    except (OSError, ValueError):
        return 0
    for _, offset in hits:
        try:
            entry = _chain.read_entry_at(data_dir, offset)
            line = _chain.encode_entry(entry["seq"], entry["prev"], entry["receipt"])
        except Exception:
            continue
        if _chain.entry_hash(line) == link.get("entry_hash"):
            return offset
    return 0
