"""The cryptographic floor and the full gate, side by side.

* **floor**: what any signed receipt costs at least, with the fastest primitives available:
  ``orjson``'s sorted bytes of a typical receipt content under heso's guards (floats,
  integer range, astral keys: the bytes are then its RFC 8785 form), BLAKE3 of them
  (``blake3``) and an Ed25519 signature of the digest (libsodium's ``crypto_sign`` through
  PyNaCl's binding). ``floor_pynacl`` signs through PyNaCl's public ``SigningKey.sign``.
* **gate**: one call of a function under ``@heso.tool`` with the starter policy
  (``heso init``'s) and with a realistic 100-rule policy: argument binding, capture, policy,
  receipt content, ``action_hash``, signature, chain append, in ``buffered``
  and ``fsync`` durability.
* **in_gate**: where the gate's time goes inside it (see :func:`in_gate`): each part's cost in
  context, as against ``stages`` (each part alone in a loop of its own).
* **gate_10k**: the same call under a 10,000-rule policy of overlapping wildcard scopes with
  conditions (``common.policy_text(overlap=True)``): several hundred rules cover
  ``send_email`` and the one that allows it comes last.

Floor and gates run interleaved (a block of each in turn), every call timed on its own, so
load that comes and goes hits all alike; the targets are on the ratios of their p50s.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    call_args,
    gated_tool,
    interleaved,
    machine,
    make_project,
    per_call,
    policy_text,
    section_main,
    summary,
    time_calls,
    timer_overhead_us,
)


def floor_fn(contents: list[Any]) -> Callable[[int], bytes]:
    """The floor over ``contents``: orjson bytes under heso's guards, BLAKE3, libsodium sign."""
    import blake3
    import nacl.bindings
    import nacl.signing
    import orjson

    from heso.canonical import _plain  # heso's guards: the bytes are the RFC 8785 form

    secret = nacl.signing.SigningKey.generate()._signing_key
    option = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
    dumps, digest_of, sign = orjson.dumps, blake3.blake3, nacl.bindings.crypto_sign

    def floor(i: int) -> bytes:
        content = contents[i & 1023]
        data = dumps(content, option=option)
        if not _plain(content, not data.isascii()):
            raise AssertionError("the floor's content must take the fast path")
        return sign(digest_of(data).digest(), secret)

    return floor


class _Stored:
    """Stands in for one of the gate's parts (its signing key, chain or policy), giving back
    a result computed once; every other attribute is the real part's."""

    def __init__(self, real: Any, **results: Any) -> None:
        self._real = real
        for name, result in results.items():
            setattr(self, name, lambda *args, result=result: result)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def in_gate(
    rt: Any,
    gate: Callable[[int], str],
    decision: Any,
    receipt: Any,
    rounds: int,
    block: int,
) -> dict[str, float]:
    """What signing, the chain append and the policy cost inside the gate, not in a loop of
    their own (where their code and data stay in the caches): the gate's p50 with each of them
    replaced by its stored result, one at a time and all three, interleaved with the real gate.
    A part's cost is the gate's p50 minus the p50 without it; ``rest`` is the gate without all
    three (binding, capture, receipt content, hashes, the outcome). Diagnostics, not targets."""
    key, ledger, policy = rt.key, rt.ledger, rt.policy
    signature = key.sign(b"heso")
    entry = ledger.append(receipt)
    parts = {
        "signing": ("key", _Stored(key, sign=signature)),
        "chain_append": ("ledger", _Stored(ledger, append=entry)),
        "policy": ("policy", _Stored(policy, evaluate=decision)),
    }

    def use(*names: str) -> Callable[[], None]:
        def setup() -> None:
            rt.key, rt.ledger, rt.policy = key, ledger, policy
            for name in names:
                attr, stored = parts[name]
                setattr(rt, attr, stored)

        return setup

    fns = {"gate": gate, **{f"without_{n}": gate for n in parts}, "rest": gate}
    setup = {"gate": use(), **{f"without_{n}": use(n) for n in parts}, "rest": use(*parts)}
    try:
        res = interleaved(fns, max(2, rounds // 3), block, setup=setup)
    finally:
        rt.key, rt.ledger, rt.policy = key, ledger, policy
    p50 = {name: r["per_call_us"]["p50"] for name, r in res.items()}
    out = {"gate": p50["gate"], "rest": p50["rest"]}
    out.update({n: p50["gate"] - p50[f"without_{n}"] for n in parts})
    return out


def run(quick: bool) -> dict[str, Any]:
    import blake3
    import nacl.signing

    import heso
    from heso import config
    from heso.canonical import canonical_bytes, loads_strict
    from heso.policy import parse_policy
    from heso.receipt import mint

    rounds, block = (4, 50) if quick else (60, 200)
    starter_root = make_project(rules=None)
    root = make_project(rules=100)
    os.environ["HESO_DURABILITY"] = "buffered"
    heso.init(project_root=root)
    send_email = gated_tool()
    rt = config.current()

    # A typical receipt content: exactly what the gate signs for this call.
    send_email(*call_args(0))
    fields = dict(zip(("to", "subject", "body", "cc", "priority"), (*call_args(0), 2), strict=True))
    outcome = heso.capture.capture("tool_call", "send_email", fields)
    content = loads_strict(canonical_bytes(dict(outcome.receipt["content"])))
    del content["action_hash"]
    size = len(canonical_bytes(content))
    # Distinct contents, as a stream of receipts would have (subject and time differ).
    contents = []
    for i in range(1024):
        c = loads_strict(canonical_bytes(content))
        c["action"]["fields"]["subject"] = call_args(i)[1]
        c["captured_at"] = f"2026-01-02T03:04:{i % 60:02d}.{i:06d}Z"
        contents.append(c)

    floor = floor_fn(contents)
    nacl_key = nacl.signing.SigningKey.generate()

    def floor_pynacl(i: int) -> bytes:
        digest = blake3.blake3(canonical_bytes(contents[i & 1023])).digest()
        return nacl_key.sign(digest).signature

    # The arguments are built before timing, as the floor's contents are: the timed call is the
    # gate alone, not the harness formatting a subject line.
    arguments = [call_args(i) for i in range(1024)]

    def gate(i: int) -> str:
        return send_email(*arguments[i & 1023])

    # The 10,000-rule policy, loaded as heso.init loads one; each gate's turn sets its policy.
    policy_100 = rt.policy
    started = time.perf_counter()
    policy_10k = parse_policy(policy_text(10_000, overlap=True), root / "heso.toml")
    load_10k_s = time.perf_counter() - started

    def use(policy: Any) -> Any:
        return lambda: setattr(rt, "policy", policy)

    out: dict[str, Any] = {
        "machine": machine(),
        "timer_overhead_us": timer_overhead_us(),
        "content_bytes": size,
        "policy_rules": len(rt.policy.rules),
        "policy_10k": {
            "rules": len(policy_10k.rules),
            "load_s": load_10k_s,
            "candidates_for_gated_tool": len(policy_10k.candidates("tool_call", "send_email")),
        },
    }
    res = interleaved(
        {
            "floor": floor,
            "floor_pynacl": floor_pynacl,
            "gate_buffered": gate,
            "gate_10k": gate,
        },
        rounds,
        block,
        setup={"gate_buffered": use(policy_100), "gate_10k": use(policy_10k)},
    )
    rt.policy = policy_100
    out.update(res)
    f50 = res["floor"]["per_call_us"]["p50"]
    g50 = res["gate_buffered"]["per_call_us"]["p50"]
    out["ratio_gate_buffered_to_floor"] = g50 / f50
    out["ratio_gate_buffered_to_floor_pynacl"] = g50 / res["floor_pynacl"]["per_call_us"]["p50"]
    out["ratio_run_medians"] = (
        res["gate_buffered"]["run_mean_us"]["median"] / res["floor"]["run_mean_us"]["median"]
    )
    out["ratio_gate_10k_to_gate"] = res["gate_10k"]["per_call_us"]["p50"] / g50

    # The starter policy, in its own project, against the same floor (interleaved again).
    heso.init(project_root=starter_root)
    starter_email = gated_tool()
    starter = interleaved(
        {"floor": floor, "gate": lambda i: starter_email(*arguments[i & 1023])}, rounds, block
    )
    out["gate_starter"] = starter["gate"]
    out["floor_starter_run"] = starter["floor"]
    out["starter_policy_rules"] = len(config.current().policy.rules)
    out["ratio_gate_starter_to_floor"] = (
        starter["gate"]["per_call_us"]["p50"] / starter["floor"]["per_call_us"]["p50"]
    )
    heso.init(project_root=root)
    rt = config.current()

    # Where the gate's time goes (each stage alone, same content): diagnostics, not targets.
    from heso.action import Action, Verb

    action = Action(Verb.TOOL_CALL, "send_email", fields)
    decision = rt.policy.evaluate(action)
    sample = dict(outcome.receipt["content"])
    del sample["action_hash"]
    sample["policy"] = decision.policy_block()
    receipt = mint(sample, rt.key)
    stages = interleaved(
        {
            "policy_evaluate": lambda i: rt.policy.evaluate(action),
            "policy_evaluate_10k": lambda i: policy_10k.evaluate(action),
            "mint": lambda i: mint(sample, rt.key),
            "chain_append": lambda i: rt.ledger.append(receipt),
            "capture": lambda i: heso.capture.capture("tool_call", "send_email", fields),
        },
        max(2, rounds // 4),
        block,
        warmup=50,
    )
    out["stages_us_p50"] = {name: r["per_call_us"]["p50"] for name, r in stages.items()}
    # In a project of its own: the gate's receipts signed by a stand-in are not valid ones.
    heso.init(project_root=make_project(rules=100))
    scratch = config.current()
    out["in_gate_us_p50"] = in_gate(
        scratch, gate, scratch.policy.evaluate(action), receipt, rounds, block
    )

    # fsync: every call waits for its fsync (one thread: nothing to share a commit with).
    os.environ["HESO_DURABILITY"] = "fsync"
    heso.init(project_root=root)
    send_email = gated_tool()
    n_fsync = 10 if quick else 40
    runs, samples = [], []
    for r in range(3 if quick else 10):
        s = time_calls(gate, n_fsync, 10_000 + r * n_fsync)
        samples.extend(s)
        runs.append(sum(s) / len(s) / 1000.0)
    out["gate_fsync"] = {"per_call_us": per_call(samples), "run_mean_us": summary(runs)}
    out["ratio_gate_fsync_to_floor"] = out["gate_fsync"]["per_call_us"]["p50"] / f50
    heso.shutdown()
    verdict = heso.ledger.verify_chain(root / "heso-local-data")
    out["chain_valid_after"] = verdict.ok
    return out


if __name__ == "__main__":
    section_main(run)
