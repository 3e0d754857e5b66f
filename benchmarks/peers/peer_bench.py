"""Peer SDKs doing the logical action heso's gate does, run inside ``benchmarks/.peers-venv``
(never heso's environment): prints one JSON object.

The action: an agent calls ``send_email(to, subject, body, cc, priority)``; the SDK records it
as a signed (or MAC'd), hash-chained entry appended to a file, as its documentation shows.

* ``agent-receipts`` / ``obsigna`` (the Agent Receipts protocol SDK, renamed): a
  ``ReceiptChain`` with a ``Signer`` built once (Ed25519 through ``cryptography``), the tool
  arguments committed as ``parameters_hash`` (SHA-256 of their RFC 8785 form, the SDK's own
  helpers), each signed receipt appended to a JSONL file by an emitter. ``..._pem`` passes the
  PEM private key string instead, as the quick-start does (the SDK parses it on every receipt).
* ``agent-governance-toolkit`` (Microsoft): ``PolicyEvaluator`` over a 100-rule policy (the
  shape of the toolkit's own benchmark) and ``AuditLog`` with its ``FileAuditSink``
  (hash-chained, HMAC-SHA256 "signed" entries, one JSONL line each). It signs with a shared
  secret (HMAC), not a public-key signature. Also its policy evaluation alone at 1 and 100
  rules.
* ``provenrail``: a ``FlightRecorder``, ``record_tool_call`` per action (the record signed
  with Ed25519 through PyNaCl and hash-chained to the previous one), with no policy (its
  fastest form); ``provenrail_guarded`` adds its ``destructive`` and ``secrets`` guard packs
  as the policy, decided before each record. Its records go to an HTTP
  sink ("off-box"); the benchmark turns the sink off (``flush=False``, no network) and appends
  each signed record to a JSONL file instead, as a local sink would.
* ``signet-auth`` (Rust core): ``SigningAgent.sign(tool, params)`` with ``audit=True``: an
  Ed25519-signed receipt of the call, appended to its hash-chained audit log on disk. No
  policy on this path.
* ``chain-receipt-core`` (Chain-Receipt v1.0.0): ``ReceiptBuilder.build`` per action (pydantic
  receipt, the tool call committed as ``tool_calls_hash``, canonical JSON + SHA-256, Ed25519
  through ``cryptography``, chained by ``prev_receipt_hash``); the library keeps the chain in
  memory and does not write, so each receipt is appended to a JSONL file here. No policy.

Usage: ``peer_bench.py --calls N --runs R`` (inside the peers venv).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

BODY = "Thanks for reaching out. Your refund has been processed. " * 3


def args_of(i: int) -> dict[str, Any]:
    return {
        "to": "customer@example.com",
        "subject": f"Re: order #{1000 + i}",
        "body": BODY,
        "cc": ["team@example.com"],
        "priority": 2,
    }


def timed(fn: Any, calls: int, runs: int) -> dict[str, Any]:
    clock = time.perf_counter_ns
    for i in range(min(200, calls)):
        fn(i)
    samples: list[int] = []
    means: list[float] = []
    k = 1000
    for _ in range(runs):
        s = []
        for _ in range(calls):
            t0 = clock()
            fn(k)
            s.append(clock() - t0)
            k += 1
        samples.extend(s)
        means.append(sum(s) / len(s) / 1000)
    samples.sort()
    return {
        "p50_us": samples[len(samples) // 2] / 1000,
        "p99_us": samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000,
        "run_mean_us": {
            "min": min(means),
            "median": statistics.median(means),
            "p99": sorted(means)[min(len(means) - 1, round(0.99 * (len(means) - 1)))],
            "runs": len(means),
        },
    }


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def agent_receipts(module: str, calls: int, runs: int, pem: bool) -> dict[str, Any]:
    ar = importlib.import_module(module)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.generate()

    class KeySigner:
        def sign(self, message: bytes) -> bytes:
            return private.sign(message)

        def get_public_key(self) -> bytes:
            return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    d = tempfile.mkdtemp(prefix=f"{module}-")
    fd = os.open(os.path.join(d, "receipts.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    class FileEmitter:
        """Append each signed receipt to a JSONL file (one ``write`` per receipt)."""

        def emit(self, receipt: Any) -> None:
            os.write(fd, receipt.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n")

    if pem:
        key: Any = ar.generate_key_pair().private_key
    else:
        key = KeySigner()
    chain = ar.ReceiptChain(
        chain_id="bench-chain",
        private_key=key,
        verification_method="did:key:bench#key-1",
        emitter=FileEmitter(),
    )
    issuer = ar.Issuer(id="did:agent:support-bot")
    principal = ar.Principal(id="did:user:alice")
    outcome = ar.Outcome(status="success")

    def one(i: int) -> Any:
        params_hash = ar.sha256(ar.canonicalize(args_of(i)))
        return chain.emit(
            ar.ChainEmitInput(
                issuer=issuer,
                principal=principal,
                action=ar.ActionInput(
                    type="tool_call",
                    risk_level="medium",
                    target=ar.ActionTarget(system="email", resource="send_email"),
                    parameters_hash=params_hash,
                ),
                outcome=outcome,
            )
        )

    res = timed(one, calls, runs)
    res["signs"] = "Ed25519 (cryptography/OpenSSL)"
    res["persists"] = "JSONL line per receipt (emitter)"
    os.close(fd)
    return res


def agt_policy(n_rules: int) -> Any:
    from agent_os.policies.evaluator import PolicyEvaluator
    from agent_os.policies.schema import (
        PolicyAction,
        PolicyCondition,
        PolicyDefaults,
        PolicyDocument,
        PolicyOperator,
        PolicyRule,
    )

    rules = [
        PolicyRule(
            name=f"rule-{i}",
            condition=PolicyCondition(
                field="action", operator=PolicyOperator.EQ, value=f"action_{i}"
            ),
            action=PolicyAction.DENY if i % 3 == 0 else PolicyAction.ALLOW,
            priority=i,
        )
        for i in range(n_rules - 1)
    ]
    rules.append(
        PolicyRule(
            name="internal-email-ok",
            condition=PolicyCondition(
                field="action", operator=PolicyOperator.EQ, value="send_email"
            ),
            action=PolicyAction.ALLOW,
            priority=-1,
        )
    )
    doc = PolicyDocument(
        version="1.0",
        name=f"bench-{n_rules}",
        rules=rules,
        defaults=PolicyDefaults(action=PolicyAction.ALLOW),
    )
    return PolicyEvaluator(policies=[doc])


def agt(calls: int, runs: int) -> dict[str, Any]:
    from agentmesh.governance.audit import AuditLog
    from agentmesh.governance.audit_backends import FileAuditSink

    d = tempfile.mkdtemp(prefix="agt-")
    sink = FileAuditSink(os.path.join(d, "audit.jsonl"), secret_key=os.urandom(32))
    log = AuditLog(sink=sink)
    evaluator = agt_policy(100)

    def one(i: int) -> Any:
        args = args_of(i)
        decision = evaluator.evaluate({"action": "send_email", "agent_id": "support-bot", **args})
        if not decision.allowed:
            raise RuntimeError("the benchmark action must be allowed")
        return log.log(
            event_type="tool_invocation",
            agent_did="did:agent:support-bot",
            action="send_email",
            resource="email",
            data=args,
            outcome="success",
            policy_decision=decision.action,
        )

    res = timed(one, calls, runs)
    res["signs"] = "HMAC-SHA256 (shared secret), not a public-key signature"
    res["persists"] = "JSONL line per entry (FileAuditSink, open/append/close each)"
    policy: dict[str, Any] = {}
    for n in (1, 100):
        ev = agt_policy(n)
        ctx = {"action": "send_email", "agent_id": "support-bot"}
        policy[f"rules_{n}"] = timed(lambda i, ev=ev, ctx=ctx: ev.evaluate(ctx), calls, runs)
    res["policy_only"] = policy
    return res


def _jsonl(prefix: str) -> Any:
    """``write(bytes)``: append one line to a fresh JSONL file (one ``write`` per record)."""
    d = tempfile.mkdtemp(prefix=prefix)
    fd = os.open(os.path.join(d, "records.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return lambda data: os.write(fd, data + b"\n")


def provenrail(calls: int, runs: int, guarded: bool = False) -> dict[str, Any]:
    from provenrail.easy import load_policy
    from provenrail.sdk import FlightRecorder

    write = _jsonl("provenrail-")
    policy = load_policy({"use": ["destructive", "secrets"]}) if guarded else None
    fr = FlightRecorder(
        "http://127.0.0.1:9", "bench-token", "bench-stream", flush=False, policy=policy
    )
    fr.start()

    def one(i: int) -> Any:
        rec = fr.record_tool_call("send_email", args_of(i), "queued")
        write(json.dumps(rec, separators=(",", ":")).encode())
        return rec

    res = timed(one, calls, runs)
    res["signs"] = "Ed25519 (PyNaCl/libsodium)"
    res["persists"] = "JSONL line per record (its HTTP sink off)"
    return res


def signet(calls: int, runs: int) -> dict[str, Any]:
    from signet_auth import SigningAgent

    agent = SigningAgent.create(
        "bench", owner="bench", signet_dir=tempfile.mkdtemp(prefix="signet-")
    )

    def one(i: int) -> Any:
        return agent.sign("send_email", params=args_of(i), target="mcp://email", audit=True)

    res = timed(one, calls, runs)
    res["signs"] = "Ed25519 (Rust, ed25519-dalek)"
    res["persists"] = "hash-chained audit log (audit_append per receipt)"
    return res


def chain_receipt(calls: int, runs: int) -> dict[str, Any]:
    import chain_receipt_core as cr

    write = _jsonl("chain-receipt-")
    key, public = cr.generate_keypair()
    builder = cr.ReceiptBuilder(
        client=cr.ClientInfo(
            name="bench", version="1", platform="linux", emitter_pubkey=f"ed25519:{public}"
        ),
        private_key=key,
        chain_seed=b"bench",
    )
    empty = cr.compute_text_hash("")

    def one(i: int) -> Any:
        interaction = cr.Interaction(
            vendor="bench",
            model="none",
            temperature=0.0,
            system_prompt_hash=empty,
            prompt_hash=empty,
            response_hash=cr.compute_text_hash("queued"),
            tool_calls_hash=cr.compute_tool_calls_hash(
                [{"name": "send_email", "args": args_of(i)}]
            ),
            n_tool_calls=1,
        )
        receipt = builder.build(interaction=interaction)
        write(receipt.model_dump_json(exclude_none=True).encode())
        return receipt

    res = timed(one, calls, runs)
    res["signs"] = "Ed25519 (cryptography/OpenSSL)"
    res["persists"] = "JSONL line per receipt (the library keeps the chain in memory only)"
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default=None, help="one row (e.g. provenrail, obsigna_pem)")
    a = ap.parse_args()
    out: dict[str, Any] = {"python": sys.version.split()[0], "peers": {}}

    def wanted(key: str) -> bool:
        return a.only is None or a.only == key

    for name, module, dist in (
        ("obsigna", "obsigna", "obsigna"),
        ("agent_receipts", "agent_receipts", "agent-receipts"),
    ):
        for pem in (False, True):
            key = name + ("_pem" if pem else "")
            if not wanted(key):
                continue
            try:
                res = agent_receipts(module, a.calls, a.runs, pem)
                out["peers"][key] = {"version": version(dist), **res}
            except Exception as exc:  # e.g. a version without Signer objects: PEM only
                why = f"{type(exc).__name__}: {exc}"[:300]
                if not pem and isinstance(exc, AttributeError):
                    why = f"this version takes only a PEM key string, no Signer ({why})"
                out["peers"][key] = {"version": version(dist), "error": why}
    if wanted("agent_governance_toolkit"):
        try:
            out["peers"]["agent_governance_toolkit"] = {
                "version": version("agent-governance-toolkit"),
                "core_version": version("agent-governance-toolkit-core"),
                **agt(a.calls, a.runs),
            }
        except Exception as exc:
            out["peers"]["agent_governance_toolkit"] = {
                "version": version("agent-governance-toolkit"),
                "error": f"{type(exc).__name__}: {exc}",
            }
    for name, dist, bench in (
        ("provenrail", "provenrail", provenrail),
        ("provenrail_guarded", "provenrail", lambda c, r: provenrail(c, r, guarded=True)),
        ("signet_auth", "signet-auth", signet),
        ("chain_receipt_core", "chain-receipt-core", chain_receipt),
    ):
        if not wanted(name):
            continue
        try:
            out["peers"][name] = {"version": version(dist), **bench(a.calls, a.runs)}
        except Exception as exc:
            out["peers"][name] = {"version": version(dist), "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
