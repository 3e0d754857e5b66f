"""Large valid ledgers made fast, for tests and benchmarks of what reads them (the console).

:func:`write_ledger` signs a few hundred distinct receipts (every verb, decision, workflow and
account mix, spread over 30 days) and chains them over and over into ``receipts.jsonl`` with
heso's own entry format, index records and a signed head: the store verifies, and 200,000
entries take seconds, not the minutes minting each would.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = ["TOOLS", "write_ledger"]

TOOLS = (
    ("tool_call", "send_email", "allow"),
    ("tool_call", "search_docs", "allow"),
    ("http_request", "GET", "allow"),
    ("llm_call", "gpt", "allow"),
    ("delete", "drop_table", "block"),
    ("tool_call", "wire_transfer", "require_approval"),
)
_WORKFLOWS = ("billing", "support", "ops")
_ACCOUNTS = ("acme", "globex", "initech", "umbrella")
_START = datetime(2026, 2, 1, tzinfo=timezone.utc)


def _content(key: Any, k: int, distinct: int) -> dict[str, Any]:
    from heso.receipt import build_content, format_timestamp

    verb, tool, decision = TOOLS[k % len(TOOLS)]
    moment = _START + timedelta(seconds=30 * 86400 * k / distinct)
    return build_content(
        captured_at=format_timestamp(moment),
        agent_identity=key.public_key().to_str(),
        action={
            "verb": verb,
            "tool_name": tool,
            "workflow": _WORKFLOWS[k % len(_WORKFLOWS)],
            "account": _ACCOUNTS[k % len(_ACCOUNTS)],
            "agent": f"agent-{k % 7}",
            "fields": {"n": k, "to": f"user{k}@example.com", "note": f"request {k}"},
        },
        policy={
            "rule_id": f"rule-{decision}",
            "rule_display": f"{tool} is {decision}",
            "matched_conditions": [],
            "decision_path": f"rule:rule-{decision}={decision}",
            "decision": decision,
        },
    )


def write_ledger(data_dir: str | Path, n: int, key: Any, *, distinct: int = 500) -> Path:
    """Write a valid, sealed ledger of ``n`` entries under ``key`` (a
    :class:`heso.keys.SigningKey`) into ``data_dir``; ``distinct`` receipts repeat in turn."""
    from heso.ledger import format as fmt
    from heso.ledger import index as idx
    from heso.receipt import mint

    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    receipts = [mint(_content(key, k, distinct), key) for k in range(distinct)]
    hashes = [r["content"]["action_hash"] for r in receipts]
    prev, offset = fmt.GENESIS, 0
    with open(root / fmt.CHAIN_FILE, "wb") as chain, open(root / idx.INDEX_FILE, "wb") as index:
        for seq in range(n):
            k = seq % distinct
            line = fmt.encode_entry(seq, prev, receipts[k])
            chain.write(line + b"\n")
            index.write(idx.record(hashes[k], offset))
            prev = fmt.entry_hash(line)
            offset += len(line) + 1
    head = fmt.sign_head(key, n, prev, offset)
    (root / fmt.HEAD_FILE).write_bytes(fmt.head_bytes(head))
    return root
