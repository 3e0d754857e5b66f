import copy
import json

import pytest

from heso import verdict as v
from heso.keys import SigningKey
from heso.receipt import (
    ALG,
    APPROVER_KEY_PREFIX,
    approval_message,
    build_content,
    compute_action_hash,
    mint,
    operator_message,
    signature_entry,
    verify_receipt,
    verify_receipt_bytes,
)


@pytest.fixture(scope="module")
def key():
    return SigningKey.generate()


def _content(key, **fields):
    return build_content(
        captured_at="2026-01-02T03:04:05Z",
        agent_identity=key.public_key().to_str(),
        action={
            "verb": "tool_call",
            "tool_name": "send_email",
            "workflow": "default",
            "account": "default",
            "fields": fields or {"to": "a@example.com", "n": 3},
        },
        policy={
            "rule_id": "allow-email",
            "rule_display": "email is allowed",
            "matched_conditions": [],
            "decision_path": "rule:allow-email",
            "decision": "allow",
        },
    )


def test_minted_receipt_has_the_wire_shape_and_verifies(key):
    r = mint(_content(key), key)
    assert r["alg"] == ALG
    assert set(r["content"]) == {
        "action_version",
        "captured_at",
        "agent_identity",
        "action",
        "policy",
        "trust_level",
        "action_hash",
    }
    (sig,) = r["signatures"]
    assert sig["key_id"] == "operator"
    assert sig["public_key"] == key.public_key().to_str()
    verdict = verify_receipt(r)
    assert verdict.ok and str(verdict) == "Valid (L0)"
    assert verdict.action_hash == r["content"]["action_hash"]


def test_action_hash_ignores_key_order_and_excludes_itself(key):
    c = _content(key)
    h = compute_action_hash(c)
    reordered = dict(reversed(list(c.items())))
    assert compute_action_hash(reordered) == h
    assert compute_action_hash({**c, "action_hash": "ff" * 32}) == h


def test_round_trip_through_json_still_verifies(key):
    r = mint(_content(key, amount=12.5, note="héllo ☃"), key)
    assert verify_receipt_bytes(json.dumps(r, indent=3)).ok


@pytest.mark.parametrize(
    "mutate, code",
    [
        (
            lambda r: r["content"]["action"]["fields"].__setitem__("to", "evil@example.com"),
            v.HASH_MISMATCH,
        ),
        (lambda r: r["content"]["policy"].__setitem__("decision", "block"), v.HASH_MISMATCH),
        (
            lambda r: r["content"].__setitem__("captured_at", "2027-01-02T03:04:05Z"),
            v.HASH_MISMATCH,
        ),
        (lambda r: r["content"].__setitem__("action_hash", "0" * 64), v.HASH_MISMATCH),
        (lambda r: r["content"].__setitem__("action_hash", None), v.MALFORMED_RECEIPT),
        (lambda r: r["content"].__setitem__("action_hash", "A" * 64), v.MALFORMED_RECEIPT),
        (lambda r: r["signatures"][0].__setitem__("signature", "00" * 64), v.INVALID_SIGNATURE),
        (lambda r: r.__setitem__("alg", "heso-action/v1+ed25519"), v.UNSUPPORTED_ALGORITHM),
        (
            lambda r: r["content"].__setitem__("action_version", "heso-action/9"),
            v.UNSUPPORTED_ALGORITHM,
        ),
        (lambda r: r["signatures"][0].__setitem__("algorithm", "RSA"), v.UNSUPPORTED_ALGORITHM),
        (lambda r: r["content"].pop("policy"), v.MALFORMED_RECEIPT),
        (lambda r: r["content"].__setitem__("extra", 1), v.MALFORMED_RECEIPT),
        (lambda r: r.__setitem__("signatures", []), v.MALFORMED_RECEIPT),
        (lambda r: r["content"].__setitem__("trust_level", "L9"), v.MALFORMED_RECEIPT),
        (lambda r: r["content"].__setitem__("captured_at", "yesterday"), v.MALFORMED_RECEIPT),
        (lambda r: r["signatures"].append(copy.deepcopy(r["signatures"][0])), v.MALFORMED_RECEIPT),
    ],
    ids=[
        "field",
        "decision",
        "time",
        "claimed-hash",
        "null-hash",
        "uppercase-hash",
        "signature",
        "alg",
        "action-version",
        "sig-alg",
        "missing-policy",
        "extra-member",
        "no-signatures",
        "trust-level",
        "timestamp",
        "two-operator-sigs",
    ],
)
def test_each_tampering_gets_a_precise_verdict(key, mutate, code):
    r = mint(_content(key), key)
    mutate(r)
    verdict = verify_receipt(r)
    assert verdict.code == code, str(verdict)
    assert not verdict.ok


def test_signature_by_another_key_is_wrong_key(key):
    r = mint(_content(key), key)
    other = SigningKey.generate()
    r["signatures"][0] = signature_entry(
        "operator", other.public_key(), other.sign(operator_message(r["content"]["action_hash"]))
    )
    assert verify_receipt(r).code == v.WRONG_KEY


def test_a_fully_re_signed_receipt_is_untrusted_when_the_operator_is_pinned(key):
    attacker = SigningKey.generate()
    forged = mint(_content(attacker), attacker)
    assert verify_receipt(forged).ok
    verdict = verify_receipt(forged, trusted_operators={key.public_key()})
    assert verdict.code == v.UNTRUSTED_KEY


@pytest.mark.parametrize("data", [b"", b"{", b"not json", b"[1,2]", b'{"alg": NaN}', b"\xff\xfe"])
def test_malformed_input_is_a_verdict_never_an_exception(data):
    verdict = verify_receipt_bytes(data)
    assert verdict.code in (v.MALFORMED_JSON, v.MALFORMED_RECEIPT)


def test_duplicate_keys_are_malformed(key):
    r = mint(_content(key), key)
    text = json.dumps(r)
    doubled = text.replace('"alg":', '"alg": "x", "alg":', 1)
    assert verify_receipt_bytes(doubled).code == v.MALFORMED_JSON


def _approve(r, approver, name="alice", *, group="oncall", threshold=1, decision="approved"):
    h = r["content"]["action_hash"]
    r["multi_approval"] = {"group": group, "threshold": threshold}
    message = approval_message(h, group=group, threshold=threshold, decision=decision)
    r["signatures"].append(
        signature_entry(APPROVER_KEY_PREFIX + name, approver.public_key(), approver.sign(message))
    )


def test_registered_approver_signature_derives_l1(key):
    alice = SigningKey.generate()
    r = mint(_content(key), key)
    _approve(r, alice)
    assert verify_receipt(r, approver_keys={alice.public_key(): "alice"}).trust_level == "L1"
    assert verify_receipt(r).code == v.UNKNOWN_APPROVER
    assert r["content"]["trust_level"] == "L0"


def test_approval_of_another_action_is_rejected(key):
    alice = SigningKey.generate()
    r = mint(_content(key), key)
    other = mint(_content(key, to="someone-else@example.com"), key)
    h_other = other["content"]["action_hash"]
    r["multi_approval"] = {"group": "oncall", "threshold": 1}
    sig = alice.sign(approval_message(h_other, group="oncall", threshold=1))
    r["signatures"].append(signature_entry("approver:alice", alice.public_key(), sig))
    verdict = verify_receipt(r, approver_keys={alice.public_key(): "alice"})
    assert verdict.code == v.APPROVAL_MISMATCH


def test_a_denial_signature_never_counts_as_approval(key):
    alice = SigningKey.generate()
    r = mint(_content(key), key)
    _approve(r, alice, decision="denied")
    verdict = verify_receipt(r, approver_keys={alice.public_key(): "alice"})
    assert verdict.code == v.APPROVAL_MISMATCH
    assert "a denial" in verdict.reason


def test_quorum_counts_distinct_registered_approvers(key):
    alice, bob = SigningKey.generate(), SigningKey.generate()
    registry = {alice.public_key(): "alice", bob.public_key(): "bob"}
    r = mint(_content(key), key)
    _approve(r, alice, threshold=2)
    _approve(r, alice, threshold=2)
    assert verify_receipt(r, approver_keys=registry).code == v.QUORUM_NOT_MET
    _approve(r, bob, name="bob", threshold=2)
    assert str(verify_receipt(r, approver_keys=registry)) == "Valid (L1)"


def test_the_signed_threshold_cannot_be_lowered_or_stripped(key):
    alice, bob = SigningKey.generate(), SigningKey.generate()
    registry = {alice.public_key(): "alice", bob.public_key(): "bob"}
    r = mint(_content(key), key)
    _approve(r, alice, threshold=2)
    r["multi_approval"]["threshold"] = 1
    assert verify_receipt(r, approver_keys=registry).code == v.APPROVAL_MISMATCH
    del r["multi_approval"]
    assert verify_receipt(r, approver_keys=registry).code == v.MALFORMED_RECEIPT


def test_registered_groups_pin_membership_and_threshold(key):
    from dataclasses import dataclass

    @dataclass
    class Group:
        threshold: int
        keys: frozenset

    alice, bob = SigningKey.generate(), SigningKey.generate()
    registry = {alice.public_key(): "alice", bob.public_key(): "bob"}
    r = mint(_content(key), key)
    _approve(r, alice, group="finance", threshold=1)
    finance_2 = {"finance": Group(2, frozenset({alice.public_key(), bob.public_key()}))}
    verdict = verify_receipt(r, approver_keys=registry, approver_groups=finance_2)
    assert verdict.code == v.QUORUM_NOT_MET and "requires 2" in verdict.reason
    only_bob = {"finance": Group(1, frozenset({bob.public_key()}))}
    verdict = verify_receipt(r, approver_keys=registry, approver_groups=only_bob)
    assert verdict.code == v.UNKNOWN_APPROVER and "not a member" in verdict.reason
    assert verify_receipt(r, approver_keys=registry, approver_groups={}).code == v.UNKNOWN_APPROVER
    finance_1 = {"finance": Group(1, frozenset({alice.public_key()}))}
    assert verify_receipt(r, approver_keys=registry, approver_groups=finance_1).trust_level == "L1"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"to": "a@example.com", "n": 3},
        {"naïve": '☃ \u2028 "q" \\ \t', "€": 1.5, "tiny": 1e-7, "big": 1e21, "𝄞": {"z": [None]}},
    ],
)
def test_minted_bytes_are_exactly_the_canonical_form(key, fields):
    from heso.canonical import canonical_bytes
    from heso.ledger.format import encode_entry

    r = mint(_content(key, **fields) if fields else _content(key), key)
    assert r.canonical == canonical_bytes(dict(r))
    assert encode_entry(7, "ab" * 32, r) == canonical_bytes(
        {"prev": "ab" * 32, "receipt": dict(r), "seq": 7}
    )


def test_unusual_scalars_fall_back_to_the_generic_path(key):
    c = _content(key)
    c["captured_at"] = 'odd "quoted" \u00e9'
    r = mint(c, key)
    from heso.canonical import canonical_bytes

    assert r.canonical == canonical_bytes(dict(r))
    assert r["content"]["action_hash"] == compute_action_hash(r["content"])


def test_verdict_reasons_clip_hostile_values(key):
    """Values a receipt carries are quoted in verdicts at most 80 characters long."""
    r = mint(_content(key), key)
    for mutate in (
        lambda x: x.__setitem__("alg", "a" * 1_000_000),
        lambda x: x["content"].__setitem__("trust_level", "L" * 1_000_000),
        lambda x: x["signatures"][0].__setitem__("algorithm", ["x"] * 100_000),
        lambda x: x["content"].__setitem__("k" * 1_000_000, 1),
    ):
        bad = copy.deepcopy(dict(r))
        mutate(bad)
        verdict = verify_receipt(bad)
        assert not verdict.ok and len(verdict.reason) < 300, verdict.reason[:100]
