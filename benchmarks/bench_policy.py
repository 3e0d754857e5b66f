"""Policy evaluation speed: p50/p99 of ``Policy.evaluate`` at 1, 100 and 10,000 rules, and at
100 and 10,000 rules of overlapping wildcard scopes.

Run alone: ``python benchmarks/bench_policy.py [--quick] [--json out.json]`` (``benchmarks/run.py``
runs it as one section of the suite).

Policies are generated with a realistic mix: six verbs (tool calls most common), scopes that
are mostly exact tool names, some ``prefix*`` globs, a few ``*suffix`` globs and rare ``*``
rules; 0 to 3 conditions per rule over eq / in / gt / lt / regex / starts_with / contains /
exists; a fifth of the rules scoped to a workflow, account or agent. Actions hit known tools
(80%) and unknown tools (20%), with fields that sometimes match. Each call is timed on its own
(``perf_counter_ns``; the timer's own overhead is printed and not subtracted). "warm" is the
steady state; "cold" is the first action on a (verb, tool) pair the policy has not seen.

The starter policy (:func:`bench_starter`) is timed on ``send_email`` calls whose recipients
come from a small address book (its conditions parse RFC 5322 address lists).

The overlapping policy (:func:`overlapping`) scopes rules by ``send_*``, ``*_email``,
``*email*``, ``*`` and the like, so that one tool is covered by about one rule in twelve; its
actions are ``send_email``-shaped calls (:func:`overlap_actions`).
"""

from __future__ import annotations

import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import section_main, summary, timer_overhead_us

from heso.action import Action, Verb
from heso.policy import Policy, parse_policy

VERB_MIX = [
    (Verb.TOOL_CALL, 45),
    (Verb.LLM_CALL, 15),
    (Verb.HTTP_REQUEST, 15),
    (Verb.DATA_EXPORT, 10),
    (Verb.PAYMENT, 10),
    (Verb.DELETE, 5),
]
DOMAINS = ["crm", "billing", "github", "jira", "slack", "db", "s3", "gmail", "hr", "search"]
ACTIONS = ["get", "list", "create", "update", "send", "sync", "export", "archive", "query"]
NOUNS = ["contact", "invoice", "issue", "ticket", "message", "record", "file", "report", "user"]


def tool_universe(rng: random.Random, size: int) -> list[str]:
    names: set[str] = set()
    while len(names) < size:
        dom, act, noun = rng.choice(DOMAINS), rng.choice(ACTIONS), rng.choice(NOUNS)
        names.add(f"{dom}.{act}_{noun}" + (f"_{rng.randrange(1000)}" if len(names) > 300 else ""))
    return sorted(names)


def pick_verb(rng: random.Random) -> Verb:
    return rng.choices([v for v, _ in VERB_MIX], [w for _, w in VERB_MIX])[0]


def condition(rng: random.Random) -> str:
    kind = rng.randrange(8)
    n = rng.randrange(1, 10_000)
    return [
        f'{{ field = "env", op = "eq", value = "{rng.choice(["prod", "dev", "staging"])}" }}',
        f'{{ field = "region", op = "in", value = ["eu", "us", "r{n % 50}"] }}',
        f'{{ field = "amount", op = "gt", value = {n} }}',
        f'{{ field = "order.items", op = "lt", value = {n % 100} }}',
        f'{{ field = "model", op = "regex", value = "^(gpt-4|claude-{n % 9})" }}',
        f'{{ field = "url", op = "starts_with", value = "https://host{n % 40}." }}',
        f'{{ field = "to", op = "contains", value = "@corp{n % 30}.com" }}',
        '{ field = "customer.email", op = "exists" }',
    ][kind]


def generate(n_rules: int, seed: int = 7) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    tools = tool_universe(rng, max(20, n_rules // 5))
    parts = ['[policy]\ndefault = "allow"\ndefault_approvers = ["oncall"]\n']
    for i in range(n_rules):
        tool = rng.choice(tools)
        r = rng.random()
        if r < 0.70:
            scope = tool
        elif r < 0.90:
            scope = (
                tool.split(".")[0] + ".*"
                if rng.random() < 0.5
                else tool[: rng.randrange(6, 12)] + "*"
            )
        elif r < 0.99:
            scope = "*_" + tool.rsplit("_", 1)[-1]
        else:
            scope = "*"
        decision = rng.choices(["allow", "block", "require_approval"], [50, 25, 25])[0]
        lines = [
            "[[rule]]",
            f'id = "r{i}"',
            f"order = {rng.randrange(0, 1000)}",
            f'verb = "{pick_verb(rng).value}"',
            f'scope = "{scope}"',
            f'decision = "{decision}"',
        ]
        if decision == "require_approval":
            lines.append('approvers = ["oncall"]')
        k = rng.choices([0, 1, 2, 3], [30, 45, 20, 5])[0]
        if k:
            lines.append("conditions = [" + ", ".join(condition(rng) for _ in range(k)) + "]")
        if rng.random() < 0.2:
            kind = rng.choice(["workflow", "account", "agent"])
            lines.append(f'subject = {{ kind = "{kind}", name = "{kind}-{rng.randrange(20)}*" }}')
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts), tools


# -- overlapping wildcard scopes ----------------------------------------------------------------

VERBS_WORDS = ["send", "get", "list", "create", "update", "sync", "forward", "draft", "archive"]
OBJECTS = ["email", "message", "invoice", "ticket", "contact", "file", "report", "sms"]
TENANTS = 300
SUBJECT_PATTERNS = ["(?i)^urgent", "(?i)wire transfer", r"^\\[ext\\]", "(?i)password|credential"]
BODY_WORDS = ["unsubscribe", "gift card", "confidential", "bitcoin", "invoice attached"]


def overlap_condition(rng: random.Random) -> str:
    """A condition on a ``send_email``-shaped call (to, subject, body, cc, priority) or on
    fields such a call lacks (env, amount, customer.tier)."""
    t = rng.randrange(TENANTS)
    return rng.choice(
        [
            f'{{ field = "to", op = "ends_with", value = "@tenant{t}.com" }}',
            f'{{ field = "to", op = "email_domain_in", value = ["tenant{t}.com"] }}',
            f'{{ field = "to", op = "eq", value = "ceo@tenant{t}.com" }}',
            f'{{ field = "priority", op = "gt", value = {rng.randrange(3, 10)} }}',
            f'{{ field = "priority", op = "in", value = [{rng.randrange(5, 9)}, 9] }}',
            f'{{ field = "cc", op = "contains", value = "audit@tenant{t}.com" }}',
            f'{{ field = "subject", op = "starts_with", value = "[tenant-{t}]" }}',
            f'{{ field = "subject", op = "regex", value = "{rng.choice(SUBJECT_PATTERNS)}" }}',
            f'{{ field = "body", op = "contains", value = "{rng.choice(BODY_WORDS)}" }}',
            f'{{ field = "env", op = "eq", value = "{rng.choice(["prod", "staging"])}" }}',
            f'{{ field = "amount", op = "gt", value = {rng.randrange(100, 100_000)} }}',
            f'{{ field = "customer.tier", op = "eq", value = "{rng.choice(["gold", "free"])}" }}',
        ]
    )


def overlapping(n_rules: int, seed: int = 13) -> tuple[str, list[str]]:
    """A policy whose wildcard scopes overlap (``send_*``, ``*_email``, ``*email*``, ``*``):
    a ``send_email`` call meets about one rule in twelve. Every rule has conditions or a
    tenant subject, so rules are told apart by what the call holds, not by its name."""
    rng = random.Random(seed)
    tools = [f"{v}_{o}" for v in VERBS_WORDS for o in OBJECTS]
    tools += [f"{d}.{t}" for d in ("gmail", "crm", "slack") for t in tools[:20]]
    parts = ['[policy]\ndefault = "allow"\ndefault_approvers = ["oncall"]\n']
    for i in range(n_rules):
        r = rng.random()
        if r < 0.30:
            scope = rng.choice(tools)
        elif r < 0.55:
            scope = rng.choice(VERBS_WORDS) + "_*"
        elif r < 0.80:
            scope = "*_" + rng.choice(OBJECTS)
        elif r < 0.90:
            scope = "*" + rng.choice(OBJECTS) + "*"
        elif r < 0.98:
            scope = rng.choice(("gmail", "crm", "slack")) + ".*"
        else:
            scope = "*"
        v = rng.random()
        verb = "*" if v < 0.15 else ("tool_call" if v < 0.85 else pick_verb(rng).value)
        decision = rng.choices(["allow", "block", "require_approval"], [40, 30, 30])[0]
        lines = [
            "[[rule]]",
            f'id = "o{i}"',
            f"order = {rng.randrange(0, 1000)}",
            f'verb = "{verb}"',
            f'scope = "{scope}"',
            f'decision = "{decision}"',
        ]
        if decision == "require_approval":
            lines.append('approvers = ["oncall"]')
        k = rng.choices([0, 1, 2, 3], [10, 50, 30, 10])[0]
        group = "any" if k >= 2 and rng.random() < 0.1 else "conditions"
        if k:
            lines.append(f"{group} = [" + ", ".join(overlap_condition(rng) for _ in range(k)) + "]")
        if k == 0 or rng.random() < 0.2:
            kind = rng.choice(["workflow", "account", "agent"])
            t = rng.randrange(TENANTS)
            name = f"tenant-{t}" if rng.random() < 0.7 else f"tenant-{t}*"
            lines.append(f'subject = {{ kind = "{kind}", name = "{name}" }}')
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts), tools


def overlap_actions(rng: random.Random, tools: list[str], count: int) -> list[Action]:
    """``send_email``-shaped calls on the overlapping policy's tools, now and then from a tenant
    or with fields that make a rule hold."""
    out = []
    for _ in range(count):
        t = rng.randrange(TENANTS)
        fields: dict[str, Any] = {
            "to": rng.choice(["customer@example.com", f"ceo@tenant{t}.com", f"a@tenant{t}.com"]),
            "subject": rng.choice(["Re: order #1001", f"[tenant-{t}] invoice"]),
            "body": "Thanks for reaching out. " * 3,
            "cc": rng.choice([["team@example.com"], [f"audit@tenant{t}.com"]]),
            "priority": rng.randrange(1, 10),
        }
        if rng.random() < 0.3:
            fields["env"] = rng.choice(["prod", "staging", "dev"])
        if rng.random() < 0.3:
            fields["amount"] = rng.randrange(200_000)
        tenant = f"tenant-{t}" if rng.random() < 0.2 else "default"
        out.append(Action(Verb.TOOL_CALL, rng.choice(tools), fields, workflow=tenant))
    return out


def actions(rng: random.Random, tools: list[str], count: int) -> list[Action]:
    out = []
    for _ in range(count):
        tool = rng.choice(tools) if rng.random() < 0.8 else f"unknown.tool_{rng.randrange(50)}"
        fields = {
            "env": rng.choice(["prod", "dev"]),
            "region": rng.choice(["eu", "us", "ap"]),
            "amount": rng.choice([rng.randrange(20_000), str(rng.randrange(20_000))]),
            "order": {"items": rng.randrange(200)},
            "model": rng.choice(["gpt-4o", "claude-3", "llama"]),
            "url": f"https://host{rng.randrange(60)}.example.com/x",
            "to": f"a@corp{rng.randrange(40)}.com",
        }
        if rng.random() < 0.5:
            fields["customer"] = {"email": "c@example.com"}
        out.append(
            Action(
                pick_verb(rng),
                tool,
                fields,
                workflow=f"workflow-{rng.randrange(30)}",
                account=f"account-{rng.randrange(30)}",
                agent=rng.choice([None, f"agent-{rng.randrange(30)}"]),
            )
        )
    return out


def timed(fn: Callable[[Action], object], items: list[Action]) -> list[int]:
    clock = time.perf_counter_ns
    samples = []
    for a in items:
        t0 = clock()
        fn(a)
        samples.append(clock() - t0)
    return samples


def timed_runs(
    fn: Callable[[Action], object], stream: list[Action], runs: int
) -> tuple[list[int], list[float]]:
    """Every call's time (ns) over ``runs`` runs of ``stream``, and each run's p50 (µs)."""
    gc.collect()
    per_run = max(1, len(stream) // runs)
    warm: list[int] = []
    run_p50: list[float] = []
    for r in range(runs):
        s = timed(fn, stream[r * per_run : (r + 1) * per_run])
        warm.extend(s)
        run_p50.append(pct(s, 0.5))
    return warm, run_p50


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def bench(n_rules: int, calls: int, runs: int = 10, *, overlap: bool = False) -> dict[str, Any]:
    """p50/p99 (µs) of ``Policy.evaluate`` over ``runs`` runs of ``calls // runs`` actions."""
    text, tools = overlapping(n_rules) if overlap else generate(n_rules)
    t0 = time.perf_counter()
    policy: Policy = parse_policy(text)
    load_ms = (time.perf_counter() - t0) * 1000
    rng = random.Random(11)
    pool = (overlap_actions if overlap else actions)(rng, tools, 5000)
    for a in pool:  # warm the per-(verb, tool) caches
        policy.evaluate(a)
    stream = [rng.choice(pool) for _ in range(calls)]
    warm, run_p50 = timed_runs(policy.evaluate, stream, runs)
    cold_pool = [
        Action(a.verb, f"{a.tool_name}#{i}", a.fields, a.workflow, a.account, a.agent)
        for i, a in enumerate(stream[: min(calls, 20_000)])
    ]
    cold = timed(parse_policy(text).evaluate, cold_pool)
    return {
        "rules": n_rules,
        "load_ms": load_ms,
        "p50_us": pct(warm, 0.50),
        "p99_us": pct(warm, 0.99),
        "run_p50_us": summary(run_p50),
        "cold_p50_us": pct(cold, 0.50),
        "cold_p99_us": pct(cold, 0.99),
        "calls": len(warm),
    }


def starter_actions(rng: random.Random, count: int) -> list[Action]:
    """``send_email`` calls under the starter policy: recipients from a small address book
    (internal and external, bare and with display names), now and then a new address, and a
    subject that differs every time."""
    book = [
        "customer@example.com",
        "ops@example.com",
        "Ana <ana@example.com>",
        "lead@partner.example",
        "a@example.com, b@example.com",
    ]
    out = []
    for i in range(count):
        to = rng.choice(book) if rng.random() < 0.9 else f"user{i}@example.com"
        fields: dict[str, Any] = {
            "to": to,
            "subject": f"Re: order #{i}",
            "body": "Thanks for reaching out. " * 3,
            "cc": rng.choice([["team@example.com"], [], ["Audit <audit@partner.example>"]]),
            "priority": 2,
        }
        out.append(Action(Verb.TOOL_CALL, "send_email", fields, workflow="default"))
    return out


def bench_starter(calls: int, runs: int = 10) -> dict[str, Any]:
    """p50/p99 (µs) of ``Policy.evaluate`` on the starter policy (``heso init``'s), whose
    email conditions read RFC 5322 address lists."""
    from heso.policy.starter import STARTER_POLICY

    t0 = time.perf_counter()
    policy = parse_policy(STARTER_POLICY)
    load_ms = (time.perf_counter() - t0) * 1000
    stream = starter_actions(random.Random(5), calls)
    for a in stream[:2000]:
        policy.evaluate(a)
    warm, run_p50 = timed_runs(policy.evaluate, stream, runs)
    return {
        "rules": len(policy.rules),
        "load_ms": load_ms,
        "p50_us": pct(warm, 0.50),
        "p99_us": pct(warm, 0.99),
        "run_p50_us": summary(run_p50),
        "calls": len(warm),
    }


def run(quick: bool) -> dict[str, Any]:
    calls = 20_000 if quick else 300_000
    out: dict[str, Any] = {"timer_overhead_us": timer_overhead_us()}
    for n in (1, 100, 10_000):
        out[f"rules_{n}"] = bench(n, calls)
    for n in (100, 10_000):
        out[f"overlap_{n}"] = bench(n, calls, overlap=True)
    out["starter"] = bench_starter(calls)
    return out


if __name__ == "__main__":
    section_main(run)
