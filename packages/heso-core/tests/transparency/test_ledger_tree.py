"""The file store keeps the Merkle tree and checkpoints as it appends: the tree always equals
the one recomputed from the log's lines, survives torn tails, lost or damaged tree files and
other writers, and the log refuses to sign a checkpoint its entries no longer extend."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from heso.errors import ChainError
from heso.keys import SigningKey
from heso.ledger import FileLedger
from heso.ledger.file_store import TREE_FILE, read_head
from heso.ledger.format import Head
from heso.transparency.checkpoint import open_checkpoint
from heso.transparency.note import Ed25519Verifier, parse_note
from heso.transparency.prove import checkpoint_of
from heso.transparency.settings import TransparencySettings
from heso.transparency.tree import CompactRange
from heso_testing.receipts import signed_receipt

KEY = SigningKey.generate()


def expected_root(data_dir: Path, upto: int | None = None) -> tuple[int, bytes]:
    lines = (data_dir / "receipts.jsonl").read_bytes().split(b"\n")[:-1][:upto]
    cr = CompactRange()
    for line in lines:
        cr.append(line)
    return cr.size, cr.root()


def stored_root(data_dir: Path) -> tuple[int, bytes]:
    tree = FileLedger(data_dir).merkle_tree()
    return tree.size, tree.root()


def ledger(path: Path, **kw) -> FileLedger:
    kw.setdefault("transparency", TransparencySettings(checkpoint_every=4))
    return FileLedger(path, key=KEY, **kw)


@pytest.mark.parametrize("durability", ["buffered", "fsync"])
def test_the_tree_follows_every_append(tmp_path: Path, durability: str) -> None:
    """Between seals the writer holds new leaves in memory; a reader of the stored tree sees
    a prefix of the log's tree that covers the signed head and the latest checkpoint."""
    led = ledger(tmp_path, durability=durability, seal_every=3)
    for i in range(23):
        led.append(signed_receipt(KEY, i))
        size, root = stored_root(tmp_path)
        assert (size, root) == expected_root(tmp_path, size)
        head = read_head(tmp_path)
        assert isinstance(head, Head)
        assert size >= head.length
        assert size >= max(led.checkpoint_store().sizes())
    led.close()
    assert stored_root(tmp_path) == expected_root(tmp_path)
    sizes = led.checkpoint_store().sizes()
    assert sizes[0] == 1 and sizes[-1] == 23
    assert all(b - a <= 4 for a, b in itertools.pairwise(sizes))
    for size in sizes:
        note = led.checkpoint_store().get(size)
        assert note is not None
        verified = open_checkpoint(note, [Ed25519Verifier(led.origin or "", KEY.public_key())])
        assert (verified.checkpoint.size, verified.checkpoint.root) == expected_root(tmp_path, size)


def test_two_writers_keep_one_tree(tmp_path: Path) -> None:
    a, b = ledger(tmp_path), ledger(tmp_path)
    for i in range(20):
        (a if i % 3 else b).append(signed_receipt(KEY, i))
    a.close()
    b.close()
    assert stored_root(tmp_path) == expected_root(tmp_path)


def test_torn_tail_and_lost_or_damaged_tree_files_are_recovered(tmp_path: Path) -> None:
    led = ledger(tmp_path)
    for i in range(9):
        led.append(signed_receipt(KEY, i))
    led.close()
    tree_file = tmp_path / TREE_FILE
    # A writer killed mid-append: a torn chain line and a partial group of hashes.
    with open(tmp_path / "receipts.jsonl", "ab") as f:
        f.write(b'{"prev":"torn')
    with open(tree_file, "ab") as f:
        f.write(os.urandom(45))
    led = ledger(tmp_path)
    led.append(signed_receipt(KEY, 9))
    assert stored_root(tmp_path) == expected_root(tmp_path)
    led.close()
    # The tree file lost its tail (a restored backup), then was deleted outright.
    with open(tree_file, "r+b") as f:
        f.truncate(5 * 32)
    led = ledger(tmp_path)
    led.append(signed_receipt(KEY, 10))
    led.close()
    assert stored_root(tmp_path) == expected_root(tmp_path)
    tree_file.unlink()
    led = ledger(tmp_path)
    led.append(signed_receipt(KEY, 11))
    led.close()
    assert stored_root(tmp_path) == expected_root(tmp_path)
    # A hash in the middle overwritten: the next checkpoint notices, rebuilds, and signs the
    # true root, consistent with the ones before.
    with open(tree_file, "r+b") as f:
        f.seek(3 * 32)
        f.write(b"\xff" * 32)
    led = ledger(tmp_path)
    for i in range(12, 17):
        led.append(signed_receipt(KEY, i))
    led.close()
    assert stored_root(tmp_path) == expected_root(tmp_path)
    latest = led.checkpoint_store().latest()
    assert latest is not None
    assert (checkpoint_of(latest).size, checkpoint_of(latest).root) == expected_root(tmp_path)


def _append_then_die(path: str, count: int) -> None:
    led = ledger(Path(path), transparency=TransparencySettings(checkpoint_every=1000))
    for i in range(count):
        led.append(signed_receipt(KEY, i))
    os.kill(os.getpid(), signal.SIGKILL)  # the deferred leaf hashes die with the writer


def test_a_writer_killed_with_deferred_hashes_loses_nothing(tmp_path: Path) -> None:
    """A writer holds the hashes of entries appended since its last seal in memory; SIGKILL
    loses them, and the next writer recomputes them from the chain before it goes on."""
    proc = multiprocessing.get_context("fork").Process(
        target=_append_then_die, args=(str(tmp_path), 10)
    )
    proc.start()
    proc.join(60)
    assert proc.exitcode == -signal.SIGKILL
    size, root = stored_root(tmp_path)
    assert size == 1  # only the first entry, sealed and checkpointed at once, was stored
    assert (size, root) == expected_root(tmp_path, size)
    assert expected_root(tmp_path)[0] == 10
    led = ledger(tmp_path)
    led.append(signed_receipt(KEY, 10))
    note = led.checkpoint()
    led.close()
    assert stored_root(tmp_path) == expected_root(tmp_path)
    verified = open_checkpoint(note, [Ed25519Verifier(led.origin or "", KEY.public_key())])
    assert (verified.checkpoint.size, verified.checkpoint.root) == expected_root(tmp_path)


def test_a_failed_flush_is_recomputed_before_the_next_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deferred hashes whose write fails are dropped, never half-kept: the next seal or
    checkpoint rehashes them from the chain, and the checkpoint signs the log's true root."""
    led = ledger(tmp_path, transparency=TransparencySettings(checkpoint_every=1000))
    for i in range(5):
        led.append(signed_receipt(KEY, i))

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    store = led._tree.tree.store  # type: ignore[union-attr]
    with monkeypatch.context() as m:
        m.setattr(store, "append_hashes", full_disk)
        led.seal()  # the flush fails: a warning, and the chain is sealed all the same
    head = read_head(tmp_path)
    assert isinstance(head, Head) and head.length == 5
    assert stored_root(tmp_path)[0] == 1
    led.append(signed_receipt(KEY, 5))
    note = led.checkpoint()
    led.close()
    assert checkpoint_of(note).size == 6
    assert (checkpoint_of(note).size, checkpoint_of(note).root) == expected_root(tmp_path)
    assert stored_root(tmp_path) == expected_root(tmp_path)


def test_a_log_whose_entries_were_rewritten_refuses_to_sign(tmp_path: Path) -> None:
    """The operator's own writer never signs a checkpoint that does not extend the last one,
    even when the chain, its head and the tree were all rewritten consistently."""
    led = ledger(tmp_path)
    for i in range(6):
        led.append(signed_receipt(KEY, i))
    led.close()
    kept = {s: led.checkpoint_store().get(s) for s in led.checkpoint_store().sizes()}
    # Rewrite: a fresh chain with other receipts, signed head and tree, then the old
    # checkpoints put back beside it.
    other = tmp_path / "other"
    led2 = ledger(other)
    for i in range(6):
        led2.append(signed_receipt(KEY, 100 + i))
    led2.close()
    for name in ("receipts.jsonl", "chain.head.json", "receipts.idx", TREE_FILE):
        os.replace(other / name, tmp_path / name)
    for size, note in kept.items():
        assert note is not None
        (tmp_path / "checkpoints" / f"{size:020d}.note").write_bytes(note)
    led = ledger(tmp_path)
    with pytest.raises(ChainError, match="no longer match checkpoint"):
        for i in range(6, 12):
            led.append(signed_receipt(KEY, i))
        led.checkpoint()


def test_checkpoints_name_the_configured_origin(tmp_path: Path) -> None:
    led = ledger(tmp_path, transparency=TransparencySettings(origin="example.com/agents"))
    led.append(signed_receipt(KEY, 0))
    note = led.checkpoint()
    led.close()
    assert parse_note(note).text.startswith("example.com/agents\n1\n")
    assert note == led.checkpoint_store().latest()


def test_a_rotated_operator_key_goes_on_under_the_new_origin(tmp_path: Path) -> None:
    """Rotating the operator key renames the default origin; the new key's checkpoints still
    extend the old ones (a rewrite is still refused), and a configured origin stays put."""
    led = ledger(tmp_path)
    for i in range(3):
        led.append(signed_receipt(KEY, i))
    led.close()
    old = led.checkpoint_store().latest()
    assert old is not None
    new_key = SigningKey.generate()
    led = FileLedger(tmp_path, key=new_key, transparency=TransparencySettings(checkpoint_every=4))
    led.append(signed_receipt(new_key, 3))
    note = led.checkpoint()
    led.close()
    cp, before = checkpoint_of(note), checkpoint_of(old)
    assert cp.origin != before.origin and cp.size == 4
    assert (before.size, before.root) == expected_root(tmp_path, before.size)
    assert (cp.size, cp.root) == expected_root(tmp_path)
