"""Policy evaluation speed: p50/p99 of ``Policy.evaluate`` at 1, 100 and 10,000 rules.

Run: ``.venv/bin/python benchmarks/bench_policy.py [--quick]``

Policies are generated with a realistic mix: six verbs (tool calls most common), scopes that
are mostly exact tool names, some ``prefix*`` globs, a few ``*suffix`` globs and rare ``*``
rules; 0 to 3 conditions per rule over eq / in / gt / lt / regex / starts_with / contains /
exists; a fifth of the rules scoped to a workflow, account or agent. Actions hit known tools
(80%) and unknown tools (20%), with fields that sometimes match. Each call is timed on its own
(``perf_counter_ns``; the timer's own overhead is printed and not subtracted). "warm" is the
steady state; "cold" is the first action on a (verb, tool) pair the policy has not seen.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable

from heso.action import Action, Verb
from heso.policy import Policy, parse_policy

TARGETS_US = {100: 5.0, 10_000: 10.0}
OTHER_TOOLKIT_US = {1: 11.0, 100: 30.0}

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


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def timer_overhead() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(100_000):
        t0 = clock()
        samples.append(clock() - t0)
    return statistics.median(samples) / 1000.0


def bench(n_rules: int, calls: int) -> dict[str, float]:
    text, tools = generate(n_rules)
    t0 = time.perf_counter()
    policy: Policy = parse_policy(text)
    load_ms = (time.perf_counter() - t0) * 1000
    rng = random.Random(11)
    pool = actions(rng, tools, 5000)
    for a in pool:  # warm the per-(verb, tool) caches
        policy.evaluate(a)
    stream = [rng.choice(pool) for _ in range(calls)]
    gc.collect()
    warm = timed(policy.evaluate, stream)
    cold_pool = [
        Action(a.verb, f"{a.tool_name}#{i}", a.fields, a.workflow, a.account, a.agent)
        for i, a in enumerate(stream[: min(calls, 20_000)])
    ]
    cold = timed(parse_policy(text).evaluate, cold_pool)
    return {
        "load_ms": load_ms,
        "p50": pct(warm, 0.50),
        "p99": pct(warm, 0.99),
        "cold_p50": pct(cold, 0.50),
        "cold_p99": pct(cold, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    args = parser.parse_args()
    calls = 50_000 if args.quick else 300_000
    print(f"python {sys.version.split()[0]}; timer overhead ~{timer_overhead():.3f} µs/call")
    print(f"{'rules':>7} {'load':>9} {'p50':>8} {'p99':>8} {'cold p50':>9} {'cold p99':>9}  target")
    for n in (1, 100, 10_000):
        r = bench(n, calls)
        target = TARGETS_US.get(n)
        verdict = ""
        if target is not None:
            ok = "OK" if r["p50"] <= target else "MISSED"
            verdict = f"p50 <= {target:g} µs: {ok} ({r['p50'] / target:.2f} of target)"
        other = OTHER_TOOLKIT_US.get(n)
        if other is not None:
            ratio = other / r["p50"]
            verdict += f"{'; ' if verdict else ''}other toolkit {other:g} µs ({ratio:.0f}x ours)"
        print(
            f"{n:>7} {r['load_ms']:>7.1f}ms {r['p50']:>6.2f}µs {r['p99']:>6.2f}µs "
            f"{r['cold_p50']:>7.2f}µs {r['cold_p99']:>7.2f}µs  {verdict}"
        )


if __name__ == "__main__":
    main()
