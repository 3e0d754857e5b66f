"""Signed notes, verifier keys, cosignatures and checkpoints: heso's own round trips, and the
notes other implementations published (the Go checksum database, Go's note package, C2SP)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from heso.errors import TransparencyError
from heso.keys import SigningKey
from heso.transparency.checkpoint import (
    Checkpoint,
    default_origin,
    open_checkpoint,
    sign_checkpoint,
)
from heso.transparency.cosignature import CosignatureSigner, CosignatureVerifier, cosigned_message
from heso.transparency.merkle import EMPTY_ROOT
from heso.transparency.note import (
    Ed25519Signer,
    Ed25519Verifier,
    Signature,
    key_id,
    open_note,
    parse_note,
    sign_note,
)
from heso.transparency.vkey import parse_vkey

DATA = json.loads((Path(__file__).parent / "data" / "signed-notes.json").read_text("utf-8"))
SUMDB = DATA["sumdb"]
ROOT = bytes(range(32))


def signer(name: str = "example.com/log", seed: int = 1) -> Ed25519Signer:
    return Ed25519Signer(name, SigningKey.from_private_bytes(bytes([seed]) * 32))


def witness(name: str = "example.com/witness", seed: int = 9, now: int = 1_700_000_000) -> Any:
    return CosignatureSigner(
        name, SigningKey.from_private_bytes(bytes([seed]) * 32), clock=lambda: now
    )


def single_edits(text: str) -> list[str]:
    """``text`` with one character changed, dropped or duplicated, at a spread of places."""
    out = []
    for i in range(0, len(text), max(1, len(text) // 40)):
        c = text[i]
        swap = "A" if c != "A" else "B"
        out += [text[:i] + swap + text[i + 1 :], text[:i] + text[i + 1 :], text[:i] + c + text[i:]]
    return [t for t in out if t != text]


# -- the real Go checksum database vector ---------------------------------------------------


@pytest.mark.parametrize("entry", SUMDB["checkpoints"], ids=lambda e: str(e["size"]))
def test_a_real_sum_golang_org_checkpoint_verifies(entry: dict[str, Any]) -> None:
    key = parse_vkey(SUMDB["vkey"])
    verified = open_checkpoint(entry["note"], [key], origin="go.sum database tree")
    assert verified.checkpoint.size == entry["size"]
    assert verified.checkpoint.origin == entry["origin"]
    assert [k.name for k in verified.log_keys] == ["sum.golang.org"]
    assert entry["note"].encode() == parse_note(entry["note"]).to_bytes()


@pytest.mark.parametrize("entry", SUMDB["checkpoints"], ids=lambda e: str(e["size"]))
def test_any_alteration_of_the_real_checkpoint_fails(entry: dict[str, Any]) -> None:
    key = parse_vkey(SUMDB["vkey"])
    note: str = entry["note"]
    body_end = note.index("\n\n") + 1
    log_sig = note.index("\u2014 sum.golang.org ")
    end_of_log_sig = note.index("\n", log_sig) + 1
    edits = [t for t in single_edits(note) if t[:end_of_log_sig] != note[:end_of_log_sig]]
    assert len(edits) > 60
    for altered in edits:
        with pytest.raises(TransparencyError):
            open_checkpoint(altered, [key], origin="go.sum database tree")
    # Semantic rewrites: another size, another root, a rolled-back size.
    size = str(entry["size"])
    for old, new in [(size, str(entry["size"] + 1)), (size, str(entry["size"] - 1))]:
        with pytest.raises(TransparencyError):
            open_checkpoint(note.replace(old, new, 1), [key])
    root_line = note[:body_end].split("\n")[2]
    other_root = base64.b64encode(bytes(32)).decode()
    with pytest.raises(TransparencyError):
        open_checkpoint(note.replace(root_line, other_root), [key])
    with pytest.raises(TransparencyError, match="not 'another origin'"):
        open_checkpoint(note, [key], origin="another origin")


def test_the_published_sumdb_vkey_is_the_only_one_that_matches() -> None:
    """The vkey is checked against its key ID: one changed character is refused."""
    vkey = SUMDB["vkey"]
    key = parse_vkey(vkey)
    assert (key.name, f"{key.key_id:08x}", key.vkey()) == ("sum.golang.org", "033de0ae", vkey)
    for i in range(len(vkey)):
        for c in "A0+/ ":
            bad = vkey[:i] + c + vkey[i + 1 :]
            if bad != vkey and bad.strip() != vkey:
                with pytest.raises(TransparencyError):
                    parse_vkey(bad)
    # A key under another name does not verify the real note, even with the right key bytes.
    impostor = Ed25519Verifier("sum.golang.org.evil", key.public_key)  # type: ignore[attr-defined]
    with pytest.raises(TransparencyError, match="no trusted key"):
        open_checkpoint(SUMDB["checkpoints"][0]["note"], [impostor])


def test_unknown_signatures_are_ignored_but_kept_apart() -> None:
    entry = SUMDB["checkpoints"][1]  # carries a witness signature from an unknown key
    opened = open_note(entry["note"], [parse_vkey(SUMDB["vkey"])])
    assert [s.name for s in opened.unverified] == ["test.example.com"]
    assert [v.signature.name for v in opened.verified] == ["sum.golang.org"]


def test_a_note_signed_by_several_go_keys() -> None:
    multi = DATA["multi_signed"]
    keys = [parse_vkey(v) for v in multi["vkeys"]]
    opened = open_note(multi["note"], keys)
    assert {v.signature.name for v in opened.verified} == {"monkeys", "bananas", "witness"}
    assert [s.name for s in opened.unverified] == ["sum.golang.org"]
    # One forged signature by a trusted key rejects the whole note.
    forged = multi["note"].replace("202ffh9ve46", "202ffh9ve47")
    with pytest.raises(TransparencyError, match="monkeys"):
        open_note(forged, keys)


def test_the_c2sp_example_note_verifies() -> None:
    example = DATA["c2sp_example"]
    opened = open_note(example["note"], [parse_vkey(example["vkey"])])
    assert opened.text == "This is an example message.\n"


def test_signing_reproduces_go_notes_byte_for_byte() -> None:
    go = DATA["go_note"]
    skey = go["skey"].split("+", 4)
    seed = base64.b64decode(skey[4])
    assert seed[0] == 1 and len(seed) == 33  # type 0x01 || Ed25519 seed
    s = Ed25519Signer(skey[2], SigningKey.from_private_bytes(seed[1:]))
    assert s.verifier().vkey() == go["vkey"] and f"{s.key_id:08x}" == skey[3]
    note = sign_note(go["text"], [s])
    assert note.decode() == go["text"] + "\n" + go["signature_line"]
    both = go["text"] + "\n" + go["signature_line"] + go["other_signature_line"]
    opened = open_note(both, [parse_vkey(go["vkey"]), parse_vkey(go["other_vkey"])])
    assert len(opened.verified) == 2 and not opened.unverified


# -- signed-note rules ----------------------------------------------------------------------


def test_key_ids_and_vkeys_round_trip() -> None:
    s = signer()
    v = parse_vkey(s.verifier().vkey())
    assert isinstance(v, Ed25519Verifier) and v.key_id == s.key_id
    assert s.key_id == key_id("example.com/log", 1, s.verifier().public_key.raw)
    w = witness().verifier()
    assert isinstance(parse_vkey(w.vkey()), CosignatureVerifier)
    # The same key under type 0x04 has another key ID: a log signature never counts as a
    # cosignature, nor the other way round.
    assert w.key_id != Ed25519Verifier(w.name, w.public_key).key_id


@pytest.mark.parametrize(
    "vkey, problem",
    [
        ("", "key name"),
        ("name", "key ID"),
        ("na me+00000000+AQ==", "key name"),
        ("name+0000000+AQ==", "key ID"),
        ("name+0000000G+AQ==", "key ID"),
        ("name+00000000+", "base64"),
        ("name+00000000+!!!!", "base64"),
        ("name+00000000+AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "type 0x02"),
        ("name+00000000+AQAA", "32 bytes"),
        ("name+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "does not match"),
    ],
)
def test_malformed_vkeys_say_what_is_wrong(vkey: str, problem: str) -> None:
    with pytest.raises(TransparencyError, match=problem):
        parse_vkey(vkey)


def test_note_syntax_is_enforced() -> None:
    s = signer()
    good = sign_note("hello\n", [s]).decode()
    parse_note(good)
    line = good.split("\n\n")[1]
    bad = [
        "hello\n",  # no signatures
        "hello\n\n",  # a blank line, then nothing
        good[:-1],  # last signature line without its newline
        "\x01" + good,  # a control character
        good.replace("hello", "hel\rlo"),
        "hello\n\n" + line.replace("\u2014", "-"),  # not an em dash
        "hello\n\n" + line.replace("example.com/log", "example.com log"),  # a space in the name
        "hello\n\n" + line.replace("example.com/log", "a+b"),  # a plus in the name
        "hello\n\n\u2014 example.com/log QUJD\n",  # fewer than 5 signature bytes
        "hello\n\n\u2014 example.com/log not*base64\n",
        good + "trailing text\n",
        good + "\n",
    ]
    for note in bad:
        with pytest.raises(TransparencyError):
            parse_note(note)
    with pytest.raises(TransparencyError, match="UTF-8"):
        parse_note(b"\xff" + good.encode())
    with pytest.raises(TransparencyError, match="at most"):
        parse_note(good.encode(), max_bytes=10)
    with pytest.raises(TransparencyError, match="at most 100"):
        parse_note("hello\n\n" + line * 101)
    # 16 signatures must be accepted (the spec's floor).
    many = [signer(f"k{i}", seed=i + 2) for i in range(16)]
    assert len(open_note(sign_note("hello\n", many), [k.verifier() for k in many]).verified) == 16


def test_open_note_trust_rules() -> None:
    a, b = signer("a", 1), signer("b", 2)
    note = sign_note("text\n", [a, b])
    assert [v.signature.name for v in open_note(note, [a.verifier()]).verified] == ["a"]
    with pytest.raises(TransparencyError, match="no trusted key"):
        open_note(note, [])
    # A known key whose signature fails rejects the note, even beside a valid one.
    forged = note.decode().replace(
        parse_note(note).signatures[1].line(),
        parse_note(sign_note("other\n", [b])).signatures[0].line(),
    )
    with pytest.raises(TransparencyError, match="does not verify"):
        open_note(forged, [a.verifier(), b.verifier()])
    # Two different keys claiming the same name and key ID: ambiguous only when used.
    fake = Ed25519Verifier("a", signer("x", 3).verifier().public_key)
    fake._id = a.key_id  # a 4-byte key ID is easy to collide
    with pytest.raises(TransparencyError, match="ambiguous"):
        open_note(note, [a.verifier(), fake])
    assert open_note(note, [b.verifier(), a.verifier(), a.verifier()]).verified
    # A repeated signature counts once.
    dup = note.decode() + parse_note(note).signatures[0].line()
    assert len(open_note(dup, [a.verifier(), b.verifier()]).verified) == 2


def test_sign_note_replaces_its_own_old_signature() -> None:
    a, b = signer("a", 1), signer("b", 2)
    first = parse_note(sign_note("text\n", [a, b]))
    again = parse_note(sign_note("text\n", [a], keep=first.signatures))
    assert [s.name for s in again.signatures] == ["b", "a"]
    with pytest.raises(TransparencyError, match="newline"):
        sign_note("no newline", [a])
    with pytest.raises(TransparencyError, match="control"):
        sign_note("tab\there\n", [a])


# -- cosignatures ---------------------------------------------------------------------------


def test_cosignature_message_and_signature_layout() -> None:
    text = b"example.com/log\n5\n" + base64.b64encode(ROOT) + b"\n"
    assert cosigned_message(text, 1679315147) == b"cosignature/v1\ntime 1679315147\n" + text
    w = witness(now=1679315147)
    sig = w.sign(text)
    assert len(sig) == 72 and int.from_bytes(sig[:8], "big") == 1679315147
    v = w.verifier()
    assert v.verify(text, sig) and CosignatureVerifier.timestamp(sig) == 1679315147
    assert w.verifier().public_key.verify(sig[8:], cosigned_message(text, 1679315147))
    # The timestamp is signed: moving it breaks the signature.
    moved = (1679315148).to_bytes(8, "big") + sig[8:]
    assert not v.verify(text, moved)
    assert not v.verify(text + b"ext\n", sig)
    assert not v.verify(text, sig[:-1])
    assert not v.verify(text, (1 << 63).to_bytes(8, "big") + sig[8:])
    with pytest.raises(TransparencyError):
        witness(now=0).sign(text)


# -- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_text_is_exact() -> None:
    cp = Checkpoint("example.com/log", 20852163, ROOT, ("ext one",))
    text = cp.text()
    assert text == ("example.com/log\n20852163\n" + base64.b64encode(ROOT).decode() + "\next one\n")
    assert Checkpoint.from_text(text) == cp
    root = base64.b64encode(ROOT).decode()
    for bad in [
        "example.com/log\n20852163\n" + root,  # no final newline
        "example.com/log\n20852163\n",
        "example.com/log\n020852163\n" + root + "\n",  # leading zero
        "example.com/log\n-1\n" + root + "\n",
        "example.com/log\n1e3\n" + root + "\n",
        "example.com/log\n" + "9" * 21 + "\n" + root + "\n",
        "example.com/log\n5\n" + root[:-1] + "\n",
        "example.com/log\n5\n" + base64.b64encode(ROOT[:31]).decode() + "\n",
        "example.com/log\n5\n" + root + "\n\n",  # an empty extension line
        "\n5\n" + root + "\n",  # no origin
    ]:
        with pytest.raises(TransparencyError):
            Checkpoint.from_text(bad)
    empty = Checkpoint("example.com/log", 0, EMPTY_ROOT)
    assert Checkpoint.from_text(empty.text()) == empty
    # Size 0 with another root parses (a witness answers it with 422) but never verifies.
    log = signer()
    open_checkpoint(sign_checkpoint(empty, log), [log.verifier()])
    with pytest.raises(TransparencyError, match="empty tree"):
        open_checkpoint(sign_checkpoint(Checkpoint("x", 0, ROOT), log), [log.verifier()])


def test_checkpoint_signing_never_collides_with_heso_signatures() -> None:
    """heso's operator key also signs receipts, heads and approval records: those messages
    never end with a newline, a checkpoint's text always does."""
    from heso.approvals.decisions import RECORD_DOMAIN
    from heso.ledger.format import HEAD_DOMAIN
    from heso.receipt import OPERATOR_DOMAIN

    for domain in (HEAD_DOMAIN, RECORD_DOMAIN, OPERATOR_DOMAIN):
        assert domain.endswith(b"\n") and not domain[:-1].endswith(b"\n")
    assert Checkpoint("heso-chain-head/v1", 1, ROOT).text().endswith("\n")


def test_checkpoints_with_witness_thresholds() -> None:
    log = signer()
    w1, w2, w3 = witness("w1", 11), witness("w2", 12), witness("w3", 13)
    cp = Checkpoint("example.com/log", 7, ROOT)
    signed = sign_checkpoint(cp, log)
    cosigs = [_cosig(w, cp) for w in (w1, w2)]
    with_two = sign_checkpoint(cp, log, cosignatures=cosigs)
    witnesses = [w1.verifier(), w2.verifier(), w3.verifier()]
    verified = open_checkpoint(with_two, [log.verifier()], witnesses=witnesses, threshold=2)
    assert {c.witness.name for c in verified.cosignatures} == {"w1", "w2"}
    assert all(c.timestamp == 1_700_000_000 for c in verified.cosignatures)
    with pytest.raises(TransparencyError, match="2 valid witness cosignature"):
        open_checkpoint(with_two, [log.verifier()], witnesses=witnesses, threshold=3)
    with pytest.raises(TransparencyError, match="0 valid witness"):
        open_checkpoint(signed, [log.verifier()], witnesses=witnesses, threshold=1)
    with pytest.raises(TransparencyError, match="needs at least"):
        open_checkpoint(signed, [log.verifier()], witnesses=[], threshold=1)
    # Witnesses alone do not make a checkpoint: the log must have signed it.
    only_witnesses = cp.text() + "\n" + "".join(c.line() for c in cosigs)
    with pytest.raises(TransparencyError, match="not signed by a trusted log key"):
        open_checkpoint(only_witnesses, [signer("other", 5).verifier()], witnesses=witnesses)
    # A witness key passed as a log key would let cosignatures stand in for the log's.
    with pytest.raises(TransparencyError, match="type 0x04"):
        open_checkpoint(only_witnesses, [w1.verifier()])
    # One witness listed twice counts once.
    alias = CosignatureVerifier("w1-alias", w1.verifier().public_key)
    alias_sig = _cosig(witness("w1-alias", 11), cp)
    doubled = sign_checkpoint(cp, log, cosignatures=[cosigs[0], alias_sig])
    with pytest.raises(TransparencyError, match="1 valid"):
        open_checkpoint(doubled, [log.verifier()], witnesses=[w1.verifier(), alias], threshold=2)
    # A cosignature over another checkpoint is a failed signature of a trusted witness.
    other = _cosig(w1, Checkpoint("example.com/log", 8, ROOT))
    bad = sign_checkpoint(cp, log, cosignatures=[other])
    with pytest.raises(TransparencyError, match="does not verify"):
        open_checkpoint(bad, [log.verifier()], witnesses=witnesses)


def _cosig(w: CosignatureSigner, cp: Checkpoint) -> Signature:
    return Signature(w.name, w.key_id, w.sign(cp.text().encode()))


def test_default_origin_is_a_valid_key_name() -> None:
    key = SigningKey.from_private_bytes(b"\x07" * 32)
    origin = default_origin(key.public_key())
    assert origin.startswith("heso/") and len(origin) == 21
    Ed25519Signer(origin, key)  # usable as the log's key name
