"""Moving evidence between stores: a file store into a database (``heso store copy``) and any
store out to the file form (``heso export``). Both verify the source first and refuse a broken
one, copy the entry lines byte for byte with the signed head, and verify the copy.

Both also build the copy's Merkle tree from the lines in the same pass and carry the source's
signed checkpoints, each checked against that tree first: an export then answers ``heso proof``
and ``heso proof --consistency`` offline (an auditor needs no key for that), and a database
copy goes on issuing checkpoints that extend the ones signed on files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from heso import durable
from heso.errors import ChainError
from heso.ledger import format as fmt
from heso.ledger.file_store import TREE_FILE, FileLedger
from heso.ledger.format import CHAIN_FILE, GENESIS, HEAD_FILE, action_hash_of_line, entry_hash
from heso.ledger.store import Checkable, LedgerReader
from heso.transparency.checkpoint_store import CHECKPOINTS_DIR, FileCheckpointStore
from heso.transparency.hash_store import FileHashStore, group_start
from heso.transparency.prove import checkpoint_of
from heso.transparency.tree import CompactRange
from heso.verdict import Verdict

Verify = Callable[[Checkable], Verdict]
BATCH = 5000


def _require_valid(verdict: Verdict, what: str) -> Verdict:
    if not verdict.ok:
        raise ChainError(f"refusing to copy {what}: it does not verify: {verdict}")
    return verdict


def head_document(store: LedgerReader) -> bytes | None:
    """The signed head of ``store`` exactly as stored, if it has one."""
    if isinstance(store, FileLedger):
        try:
            return (store.data_dir / HEAD_FILE).read_bytes()
        except FileNotFoundError:
            return None
    return store.head_document()  # type: ignore[attr-defined,no-any-return]


class _Checkpoints:
    """The source's checkpoints, each kept only if the copied tree has its root at its size."""

    def __init__(self, source: LedgerReader) -> None:
        store = source.checkpoint_store()
        self.notes: dict[int, bytes] = {}
        for size in store.sizes():
            note = store.get(size)
            if note is not None:
                self.notes[size] = note
        self.matched: list[tuple[int, bytes]] = []
        self.see(CompactRange())  # a checkpoint of the empty log

    def see(self, tree: CompactRange) -> None:
        """Call after each leaf: checks the checkpoint at the tree's size, if there is one."""
        note = self.notes.get(tree.size)
        if note is None:
            return
        if checkpoint_of(note).root != tree.root():
            raise ChainError(
                f"refusing to copy: the checkpoint at size {tree.size} does not match the "
                "chain's entries (run `heso verify --consistency` against it)"
            )
        self.matched.append((tree.size, note))

    def check_all_seen(self, size: int) -> None:
        beyond = [s for s in self.notes if s > size]
        if beyond:
            raise ChainError(
                f"refusing to copy: a checkpoint at size {max(beyond)} covers entries the chain "
                f"({size} entries) lacks"
            )


def copy_to_database(source: FileLedger, url: str, verify: Verify) -> Verdict:
    """Copy the file store ``source`` (entries, signed head, approvals) into the empty, migrated
    database at ``url``; the copy's verdict. The file store records no host per entry: copied
    entries carry :func:`~heso.ledger.postgres_store.copied_host`, which says so."""
    from heso.approvals.file_store import FileApprovalStore
    from heso.approvals.postgres_store import PostgresApprovalStore
    from heso.ledger.postgres_store import PostgresLedger, copied_host

    before = _require_valid(verify(source), f"the file store {source.location}")
    head = head_document(source)
    target = PostgresLedger(url)
    target.db.ensure_schema()
    if target._fetch_one("SELECT 1 FROM heso_entries LIMIT 1", ()) is not None:
        raise ChainError(f"refusing to copy into {target.location}: it already holds a chain")

    host = copied_host()

    def load(conn: Any) -> None:
        seq, prev, size = 0, GENESIS, 0
        tree, checkpoints = CompactRange(), _Checkpoints(source)
        groups: list[tuple[int, bytes]] = []
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM heso_tip FOR UPDATE")
            with cur.copy(
                "COPY heso_entries (seq, action_hash, byte_offset, line, host) FROM STDIN"
            ) as copy:
                for s, line in source.entries():
                    copy.write_row((s, action_hash_of_line(line), size, line, host))
                    groups.append((s, b"".join(tree.append(line))))
                    checkpoints.see(tree)
                    seq, prev, size = s + 1, entry_hash(line), size + len(line) + 1
            checkpoints.check_all_seen(seq)
            with cur.copy("COPY heso_tree (seq, hashes) FROM STDIN") as copy:
                for group in groups:
                    copy.write_row(group)
            for cp_size, note in checkpoints.matched:
                cur.execute(
                    "INSERT INTO heso_checkpoints (size, note) VALUES (%s, %s)", (cp_size, note)
                )
            cur.execute("UPDATE heso_tip SET length = %s, prev = %s, size = %s", (seq, prev, size))
            if head is not None:
                parsed = fmt.parse_head(head)
                length = parsed.length if isinstance(parsed, fmt.Head) else 0
                cur.execute("INSERT INTO heso_heads (length, doc) VALUES (%s, %s)", (length, head))

    target.db.run("copy the chain", load, deadline=0)
    PostgresApprovalStore(url, db=target.db).import_files(FileApprovalStore(source.data_dir))
    after = verify(target)
    target.db.close()
    if not after.ok or after.details.get("entries") != before.details.get("entries"):
        raise ChainError(f"the copy in {target.location} does not verify: {after}")
    return after


def export_files(
    source: LedgerReader, directory: str | os.PathLike[str], verify: Verify
) -> Verdict:
    """Write ``source``'s entries and signed head as ``receipts.jsonl`` and ``chain.head.json``
    in ``directory`` (which must hold no chain yet); the exported files' verdict."""
    before = _require_valid(verify(source), f"the store {source.location}")
    out = Path(directory)
    durable.make_private_dir(out)
    chain = out / CHAIN_FILE
    if chain.exists() or (out / HEAD_FILE).exists():
        raise ChainError(f"refusing to export into {out}: it already holds a chain")
    head = head_document(source)
    checkpoints = _Checkpoints(source)
    with open(chain, "xb") as f, FileHashStore(out / TREE_FILE) as hashes:
        hashes.truncate(0)
        tree = CompactRange()
        batch: list[bytes] = []
        for _, line in source.entries():
            batch.append(line)
            hashes.append_hashes(group_start(tree.size), tree.append(line))
            checkpoints.see(tree)
            if len(batch) >= BATCH:
                f.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            f.write(b"\n".join(batch) + b"\n")
        checkpoints.check_all_seen(tree.size)
        f.flush()
        os.fsync(f.fileno())
        hashes.sync()
    kept = FileCheckpointStore(out / CHECKPOINTS_DIR)
    for cp_size, note in checkpoints.matched:
        kept.put(cp_size, note)
    if head is not None:
        durable.atomic_write(out / HEAD_FILE, head)
    after = verify(FileLedger(out))
    if not after.ok or after.details["entries"] < before.details["entries"]:
        raise ChainError(f"the export in {out} does not verify: {after}")
    return after


def exported_policy(policy: Path) -> bytes:
    """The project's ``heso.toml`` for an export: its pinned keys and approvers kept, its
    ``store`` setting (which may hold a database password) dropped, so the export reads its own
    files."""
    import re

    text = policy.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True) if not re.match(r"\s*store\s*=", line)]
    return (
        "# Exported by `heso export`: the chain is in heso-local-data/ beside this file.\n"
        + "".join(kept)
    ).encode("utf-8")
