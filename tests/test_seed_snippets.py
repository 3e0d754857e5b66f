"""Every code snippet of the product documentation (the five pages in ``../shared/seeds/``)
runs as written and does what the page says it does.

Each snippet is restated below verbatim from its page (``SEED`` names the page and section);
it runs with ``exec`` in a namespace that supplies only what the page leaves to the reader:
stub bodies for the placeholders it calls (``web.search``, ``db.fetch``, ``stripe``, ``bank``,
...) and, for ``OpenAI()`` / ``Anthropic()``, the local fake provider server through the
clients' own ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` variables. The project is made with
``heso init`` and the snippets' ``heso.init()`` finds it from the CWD, as the pages describe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import heso
from heso.cli import main

WRAP = "000-wrap-openai-anthropic.txt"
REFERENCE = "001-python-sdk-reference.txt"
QUICKSTART = "002-quickstart-python.txt"
CLI = "003-cli-reference.txt"
OVERVIEW = "004-overview-receipt.txt"


@dataclass(frozen=True)
class Snippet:
    seed: str
    section: str
    code: str


def snippet(seed: str, section: str, code: str) -> Snippet:
    return Snippet(seed, section, textwrap.dedent(code).strip() + "\n")


# -- the snippets, verbatim --------------------------------------------------------------------

WRAP_OPENAI = snippet(
    WRAP,
    "Wrap an OpenAI client",
    """
    import heso
    from openai import OpenAI

    heso.init()

    client = heso.wrap(OpenAI())

    resp = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Summarize this contract."}],
    )
    """,
)
WRAP_ANTHROPIC = snippet(
    WRAP,
    "Wrap an Anthropic client",
    """
    import heso
    from anthropic import Anthropic

    heso.init()

    client = heso.wrap(Anthropic())

    resp = client.messages.create(
        model="claude-sonnet-4-20250514",
        max_tokens=1024,
        messages=[{"role": "user", "content": "Summarize this contract."}],
    )
    """,
)
GPT4_RULE = snippet(
    WRAP,
    "Gate on the model or any field",
    """
    [[rule]]
    id = "gpt4-needs-approval"
    order = 10
    enabled = true
    subject = { kind = "any" }
    verb = "llm_call"
    scope = "*"
    conditions = [
      { field = "model", op = "regex", value = "^gpt-4", display = "model is a GPT-4 variant" },
    ]
    decision = "require_approval"
    approvers = ["oncall"]
    sla_minutes = 30
    """,
)
HANDLE_REFUSAL = snippet(
    WRAP,
    "Handle a refusal",
    """
    import heso
    from openai import OpenAI

    heso.init()

    client = heso.wrap(OpenAI())

    try:
        resp = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "..."}],
        )
    except heso.BlockedError:
        # Policy blocked the call. Nothing was sent to the provider.
        fall_back_to_a_cheaper_model()
    except heso.SuspendedError as e:
        # Policy routed the call to a human. It is paused until someone approves.
        # e carries action_hash and rule_id; its message prints the next step.
        queue_for_approval(e.action_hash)
    """,
)
OBSERVE_ONLY = snippet(
    WRAP,
    "Handle a refusal (observe-only)",
    """
    import heso

    # Observe-only: refused calls are still captured, signed, and audited,
    # but a block does not raise — the call runs ungated.
    heso.init(blocking=False)
    """,
)
LOOKUP_CONTRACT = snippet(
    WRAP,
    "Gate at the tool level instead",
    """
    import heso

    heso.init()

    @heso.tool  # captured as a tool_call action, gated, signed
    def lookup_contract(contract_id: str) -> str:
        return db.fetch(contract_id)  # body runs only if policy allows
    """,
)
INIT_EXAMPLE = snippet(
    REFERENCE,
    "heso.init() example",
    """
    import heso
    # explicit args > env vars > heso.toml > defaults
    cfg = heso.init(
        workflow="vendor-payouts",
        account="acct_19",
        blocking=True,  # raise on a blocked/suspended action (the default)
    )
    """,
)
TOOL_EXAMPLE = snippet(
    REFERENCE,
    "@heso.tool example",
    """
    import heso
    heso.init()
    @heso.tool
    def transfer(payee: str, amount_usd: int) -> str:
        # Captured as a tool_call, checked against policy, and signed
        # into a receipt before this body runs.
        return stripe.transfers.create(destination=payee, amount=amount_usd)
    # Redact named fields before signing (commit-and-reveal).
    @heso.tool(redact=["api_key"])
    def call_vendor(api_key: str, endpoint: str) -> dict:
        return vendor.request(endpoint, key=api_key)
    """,
)
DESTRUCTIVE_EXAMPLE = snippet(
    REFERENCE,
    "@heso.destructive example",
    """
    import heso
    heso.init()
    @heso.destructive
    def delete_member(member_id: str) -> None:
        # verb = delete. delete carries a pinned floor, so an unmatched
        # delete routes to a human approver by default.
        db.members.delete(member_id)
    """,
)
ACTION_EXAMPLE = snippet(
    REFERENCE,
    "@heso.action() example",
    """
    import heso
    heso.init()
    # Declare a catalog action ("domain.action_id"). It gates with the
    # catalog's coarse verb (here, payment) and stamps action.domain /
    # action.action on the receipt. An unknown id raises ValueError at
    # decoration time.
    @heso.action("payment.authorize_payment")
    def charge_card(amount: int, to: str) -> str:
        return stripe.charges.create(amount=amount, destination=to)
    """,
)
STEP_EXAMPLE = snippet(
    REFERENCE,
    "heso.step() example",
    """
    import heso
    heso.init()
    with heso.step(workflow="run-42", account="acct_19"):
        transfer("Globex LLC", 4200) # scoped to workflow "run-42"
        notify_finance() # same workflow + account labels
    """,
)
WRAP_EXAMPLE = snippet(
    REFERENCE,
    "heso.wrap() example",
    """
    import heso
    from openai import OpenAI
    heso.init()
    client = heso.wrap(OpenAI())
    # .create at the leaf is gated as an llm_call; the call kwargs
    # become the action fields. Everything else forwards verbatim.
    resp = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "summarize Q3"}],
    )
    """,
)
PROCESS_EXAMPLE = snippet(
    REFERENCE,
    "heso.process() example",
    """
    import heso
    from heso import Action, Verb, OutcomeKind
    heso.init()
    action = Action(verb=Verb.payment, tool_name="stripe.transfers.create",
                    fields={"amount_usd": "4200", "payee": "Globex LLC"})
    outcome = heso.process(action)
    if outcome.kind is OutcomeKind.BLOCKED:
        raise RuntimeError("policy blocked this payment")
    """,
)
GATED_EXAMPLE = snippet(
    REFERENCE,
    "@heso.gated example",
    """
    import heso
    heso.init()
    @heso.gated
    def wire_funds(payee: str, amount_usd: int) -> str:
        # Runs ONLY after an approver approves. First call parks and
        # returns heso.SUSPENDED; a later call with the same session resumes.
        return bank.wire(payee, amount_usd)
    out = wire_funds("Globex LLC", 50_000, _heso_session="payout-7")
    if out is heso.SUSPENDED:
        ... # waiting on a human; call again later with the same session
    """,
)
RESUME_EXAMPLE = snippet(
    REFERENCE,
    "resume, decision, append_decision",
    """
    import heso
    heso.init()
    # Record an approver decision out of band...
    heso.append_decision("payout-7", "approved", reason="cfo ok")
    # ...then advance the lifecycle. Re-call the @gated fn with the same
    # session to actually run the body; bare resume() only drives the engine.
    outcome = heso.resume("payout-7")
    """,
)
BOOTSTRAP = snippet(
    QUICKSTART,
    "heso_bootstrap.py",
    """
    import heso

    heso.init()
    """,
)
SEARCH_TOOL = snippet(
    QUICKSTART,
    "Gate a tool",
    """
    import heso

    heso.init()


    @heso.tool
    def search(query: str) -> str:
        # this body only runs if policy lets the call through
        return web.search(query)


    results = search("quarterly revenue, ACME Corp")
    """,
)
SEARCH_BLOCKED = snippet(
    QUICKSTART,
    "Gate a tool (BlockedError)",
    """
    from heso import BlockedError

    try:
        search("something policy forbids")
    except BlockedError:
        # the tool body never ran — no side effect happened
        ...
    """,
)
DELETE_RECORD = snippet(
    QUICKSTART,
    "Gate a tool (@heso.destructive)",
    """
    @heso.destructive
    def delete_record(record_id: str) -> None:
        db.delete(record_id)
    """,
)
PARTNER_API = snippet(
    QUICKSTART,
    "Redact sensitive fields",
    """
    @heso.tool(redact=["api_key"])
    def call_partner_api(api_key: str, endpoint: str) -> dict:
        return requests.get(endpoint, headers={"Authorization": api_key}).json()
    """,
)
QUICKSTART_WRAP = snippet(
    QUICKSTART,
    "Gate an LLM client",
    """
    import heso
    from openai import OpenAI

    heso.init()

    client = heso.wrap(OpenAI())

    # gated at the leaf — verb llm_call; the call kwargs become the action fields
    response = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "summarize the filing"}],
    )
    """,
)
MAIN_PY = snippet(
    QUICKSTART,
    "Run it (main.py)",
    """
    import heso_bootstrap  # init before anything else

    from agent import run
    run()
    """,
)
QUICKSTART_STEP = snippet(
    QUICKSTART,
    "Run it (heso.step)",
    """
    import heso

    heso.init()

    with heso.step(workflow="run-42"):
        search("pricing for the enterprise tier")
        call_partner_api(api_key, "https://api.partner.example/v1/quote")
    """,
)
CLI_MAIN_PY = snippet(
    CLI,
    "The bootstrap module (main.py)",
    """
    # import the bootstrap once, at the very top of your entrypoint
    import heso_bootstrap  # noqa: F401

    from my_agent import run
    run()
    """,
)
PAYMENT_RECEIPT = {  # OVERVIEW, "What a receipt is": receipt.json, the facts heso carries over
    "alg": "heso-action/v2+ed25519",
    "content": {
        "action_version": "heso-action/2.0",
        "action": {
            "verb": "payment",
            "tool_name": "stripe.transfers.create",
            "workflow": "vendor-payouts",
            "account": "acct_19",
            "fields": {"amount_usd": "4200", "payee": "Globex LLC"},
        },
        "policy": {
            "rule_id": "pay-cap",
            "rule_display": "Require approval to pay over $5,000",
            "matched_conditions": [{"field": "amount_usd", "op": "lte", "value": "5000"}],
            "decision_path": "allow",
        },
        "trust_level": "L0",
    },
    "signatures": [{"algorithm": "Ed25519", "key_id": "operator"}],
}

# -- the world the snippets leave to the reader -----------------------------------------------


@dataclass
class World:
    """Stub bodies for the placeholders the snippets call, recording every call."""

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def recorder(self, name: str, result: Any = None) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args + tuple(sorted(kwargs.items()))))
            return result

        return record

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)

    def namespace(self) -> dict[str, Any]:
        r = self.recorder
        response = SimpleNamespace(json=lambda: {"quote": 42})
        return {
            "web": SimpleNamespace(search=r("web.search", "3 results")),
            "db": SimpleNamespace(
                fetch=r("db.fetch", "contract text"),
                delete=r("db.delete"),
                members=SimpleNamespace(delete=r("db.members.delete")),
            ),
            "stripe": SimpleNamespace(
                transfers=SimpleNamespace(create=r("stripe.transfers.create", "tr_1")),
                charges=SimpleNamespace(create=r("stripe.charges.create", "ch_1")),
            ),
            "vendor": SimpleNamespace(request=r("vendor.request", {"ok": True})),
            "bank": SimpleNamespace(wire=r("bank.wire", "wired")),
            "requests": SimpleNamespace(get=r("requests.get", response)),
            "fall_back_to_a_cheaper_model": r("fall_back_to_a_cheaper_model"),
            "queue_for_approval": r("queue_for_approval"),
            "api_key": "sk-partner-7731",
        }


@dataclass
class Agent:
    """A project made by ``heso init``, the CWD of every snippet."""

    root: Path
    world: World
    capsys: Any
    namespaces: list[dict[str, Any]] = field(default_factory=list)

    def run(self, *snippets: Snippet, ns: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the snippets in order in one namespace (as one file would)."""
        ns = ns if ns is not None else {"__name__": "agent", **self.world.namespace()}
        self.namespaces.append(ns)
        for s in snippets:
            exec(compile(s.code, f"<{s.seed}: {s.section}>", "exec"), ns)
        return ns

    def cli(self, *argv: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(list(argv))
        return code, self.capsys.readouterr().out

    def receipts(self) -> list[dict[str, Any]]:
        log = self.root / "heso-local-data" / "receipts.jsonl"
        if not log.exists():
            return []
        return [json.loads(line)["receipt"] for line in log.read_text().splitlines()]

    def last(self, tool: str | None = None) -> dict[str, Any]:
        found = [r for r in self.receipts() if tool in (None, r["content"]["action"]["tool_name"])]
        assert found, f"no receipt for {tool}"
        return found[-1]

    def policy(self, extra: str) -> None:
        """Add rules (or approvers) to the starter policy ``heso init`` wrote."""
        path = self.root / "heso.toml"
        path.write_text(path.read_text() + "\n" + extra)

    def register_approver(self, name: str = "alice", group: str = "oncall") -> None:
        from heso.approvals.identity import new_approver

        _, public = new_approver(name)
        self.policy(f'[approvers.{group}]\nmembers = {{ {name} = "{public}" }}\n')

    def approve(self, action_hash: str, name: str = "alice") -> None:
        code, out = self.cli("approve", action_hash[:16], "--as", name)
        assert code == 0, out

    def pending(self) -> list[dict[str, Any]]:
        code, out = self.cli("approvals", "list", "--json")
        assert code == 0
        return json.loads(out)


@pytest.fixture
def agent(
    tmp_path: Path, heso_env: None, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> Iterator[Agent]:
    root = tmp_path / "your-agent"
    root.mkdir()
    monkeypatch.chdir(root)
    # `heso` on PATH is this installation's, as after `pip install` in an active environment.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "alice-laptop"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "alice's own passphrase")
    assert main(["init"]) == 0  # QUICKSTART, "Scaffold a project": `heso init`
    monkeypatch.syspath_prepend(str(root))
    made = Agent(root, World(), capsys)
    try:
        yield made
    finally:
        heso.shutdown()
        for ns in made.namespaces:  # the snippets leave their clients open, as a script may
            if hasattr(ns.get("client"), "close"):
                ns["client"].close()
        for name in ("heso_bootstrap", "agent", "my_agent"):
            sys.modules.pop(name, None)


@pytest.fixture
def providers(fake_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``OpenAI()`` and ``Anthropic()`` as written reach the local fake provider server."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_provider.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_provider.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    return fake_provider


# == 000: OpenAI & Anthropic ===================================================================


def test_wrap_an_openai_client(agent, providers):
    ns = agent.run(WRAP_OPENAI)
    assert ns["resp"].choices[0].message.content  # the client's own ChatCompletion
    assert providers.count("/v1/chat/completions") == 1
    content = agent.last("chat.completions.create")["content"]
    assert content["action"]["verb"] == "llm_call"
    assert content["action"]["fields"]["model"] == "gpt-4o"
    assert content["action"]["fields"]["messages"][0]["content"] == "Summarize this contract."
    assert agent.cli("verify", "--chain")[0] == 0


def test_wrap_an_anthropic_client(agent, providers):
    ns = agent.run(WRAP_ANTHROPIC)
    assert ns["resp"].content[0].text
    assert providers.count("/v1/messages") == 1
    action = agent.last("messages.create")["content"]["action"]
    assert action["verb"] == "llm_call" and action["fields"]["max_tokens"] == 1024
    assert action["fields"]["model"] == "claude-sonnet-4-20250514"


def test_gate_on_the_model_and_handle_the_refusal(agent, providers):
    agent.policy(GPT4_RULE.code)
    assert agent.cli("policy", "check")[0] == 0
    ns = agent.run(HANDLE_REFUSAL)
    assert providers.count("/v1/chat/completions") == 0  # paused before the request left
    assert agent.world.count("queue_for_approval") == 1
    assert agent.world.count("fall_back_to_a_cheaper_model") == 0
    (_, (action_hash,)) = agent.world.calls[-1]
    receipt = agent.last("chat.completions.create")["content"]
    assert receipt["action_hash"] == action_hash
    assert receipt["policy"]["rule_id"] == "gpt4-needs-approval"
    assert "resp" not in ns
    # The rule matches GPT-4 variants only: a Claude call goes through.
    agent.run(WRAP_ANTHROPIC)
    assert providers.count("/v1/messages") == 1


def test_a_blocked_call_is_never_sent(agent, providers):
    agent.policy(GPT4_RULE.code.replace('"require_approval"', '"block"'))
    agent.run(HANDLE_REFUSAL)
    assert providers.count("/v1/chat/completions") == 0
    assert agent.world.count("fall_back_to_a_cheaper_model") == 1
    assert agent.last()["content"]["policy"]["decision"] == "block"


def test_a_paused_call_made_again_after_approval_is_sent_once(agent, providers):
    """The SuspendedError's next step: an approver approves, the same call made again runs
    once under the approved (L1) receipt; the next identical call is a new action."""
    agent.policy(GPT4_RULE.code)
    agent.register_approver()
    agent.run(HANDLE_REFUSAL)
    (_, (action_hash,)) = agent.world.calls[-1]
    agent.approve(action_hash)
    ns = agent.run(HANDLE_REFUSAL)
    assert providers.count("/v1/chat/completions") == 1 and "resp" in ns
    assert agent.world.count("queue_for_approval") == 1
    l1 = agent.last("chat.completions.create")
    assert l1["content"]["action_hash"] == action_hash and len(l1["signatures"]) == 2
    assert agent.cli("verify", action_hash[:16])[1].startswith("Valid (L1)")
    agent.run(HANDLE_REFUSAL)  # a new action: paused again, not sent
    assert providers.count("/v1/chat/completions") == 1
    assert agent.world.count("queue_for_approval") == 2


def test_observe_only_runs_refused_calls_and_records_the_verdict(agent, providers):
    agent.policy(GPT4_RULE.code)
    ns = agent.run(OBSERVE_ONLY)
    with ns["heso"].wrap(__import__("openai").OpenAI()) as client:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "..."}]
        )
    assert providers.count("/v1/chat/completions") == 1
    assert agent.last()["content"]["policy"]["decision"] == "require_approval"


def test_gate_at_the_tool_level(agent):
    ns = agent.run(LOOKUP_CONTRACT)
    assert ns["lookup_contract"]("C-17") == "contract text"
    assert agent.world.calls == [("db.fetch", ("C-17",))]
    action = agent.last("lookup_contract")["content"]["action"]
    assert (action["verb"], action["fields"]) == ("tool_call", {"contract_id": "C-17"})


# == 001: the Python SDK reference =============================================================


def test_init_resolves_and_returns_the_config(agent, monkeypatch):
    monkeypatch.setenv("HESO_WORKFLOW", "from-the-environment")
    ns = agent.run(INIT_EXAMPLE)
    cfg = ns["cfg"]
    assert isinstance(cfg, heso.Config)
    assert (cfg.workflow, cfg.account, cfg.blocking) == ("vendor-payouts", "acct_19", True)
    assert cfg.project_root == agent.root.resolve()


def test_tool_and_redaction(agent):
    ns = agent.run(TOOL_EXAMPLE)
    assert ns["transfer"]("Globex LLC", 4200) == "tr_1"
    assert ns["call_vendor"]("sk-vendor-99", "https://vendor.example/v1") == {"ok": True}
    assert agent.world.count("stripe.transfers.create") == 1
    assert agent.world.count("vendor.request") == 1
    transfer = agent.last("transfer")["content"]["action"]
    assert transfer["verb"] == "tool_call"
    assert transfer["fields"] == {"payee": "Globex LLC", "amount_usd": 4200}
    vendor = agent.last("call_vendor")["content"]["action"]["fields"]
    assert vendor["api_key"]["heso_redacted"] == "commit"
    assert vendor["endpoint"] == "https://vendor.example/v1"
    for path in (agent.root / "heso-local-data").rglob("*"):
        if path.is_file():
            assert b"sk-vendor-99" not in path.read_bytes(), path


def test_destructive_routes_an_unmatched_delete_to_a_human(agent):
    ns = agent.run(DESTRUCTIVE_EXAMPLE)
    with pytest.raises(heso.SuspendedError) as parked:
        ns["delete_member"]("m-7")
    assert agent.world.count("db.members.delete") == 0
    receipt = agent.last("delete_member")["content"]
    assert receipt["action"]["verb"] == "delete"
    assert receipt["policy"]["decision"] == "require_approval"
    assert parked.value.action_hash == receipt["action_hash"]
    assert "heso approve" in str(parked.value)


def test_a_destructive_call_made_again_after_approval_runs_once(agent):
    agent.register_approver()
    ns = agent.run(DESTRUCTIVE_EXAMPLE)
    with pytest.raises(heso.SuspendedError) as parked:
        ns["delete_member"]("m-7")
    agent.approve(parked.value.action_hash)
    ns["delete_member"]("m-7")
    assert agent.world.count("db.members.delete") == 1
    assert len(agent.last("delete_member")["signatures"]) == 2  # the L1 receipt
    with pytest.raises(heso.SuspendedError):  # a later identical call is a new action
        ns["delete_member"]("m-7")
    assert agent.world.count("db.members.delete") == 1


PAY_CAP = """
[[rule]]
id = "pay-cap"
display = "Require approval to pay over $5,000"
order = 1
verb = "payment"
scope = "*"
conditions = [{ field = "amount_usd", op = "lte", value = 5000 }]
decision = "allow"
"""


def test_catalog_action_declares_a_payment(agent):
    agent.policy(PAY_CAP.replace("amount_usd", "amount"))
    ns = agent.run(ACTION_EXAMPLE)
    assert ns["charge_card"](4200, "acct_42") == "ch_1"
    assert agent.world.count("stripe.charges.create") == 1
    action = agent.last("charge_card")["content"]["action"]
    assert action["verb"] == "payment"
    assert (action["domain"], action["action"]) == ("payment", "authorize_payment")
    with pytest.raises(ValueError, match=r"payment\.authorize_paymnt"):
        heso.action("payment.authorize_paymnt")


def test_step_scopes_workflow_and_account(agent):
    ns = agent.run(TOOL_EXAMPLE)

    @heso.tool
    def notify_finance() -> None:
        agent.world.calls.append(("notify_finance", ()))

    ns["notify_finance"] = notify_finance
    agent.run(STEP_EXAMPLE, ns=ns)
    for tool in ("transfer", "notify_finance"):
        action = agent.last(tool)["content"]["action"]
        assert (action["workflow"], action["account"]) == ("run-42", "acct_19"), tool


def test_wrap_example(agent, providers):
    agent.run(WRAP_EXAMPLE)
    assert providers.count("/v1/chat/completions") == 1
    assert agent.last()["content"]["action"]["fields"]["messages"][0]["content"] == "summarize Q3"


def test_process_mints_the_payment_receipt_of_the_overview(agent, monkeypatch):
    """The reference's heso.process payment, under the overview page's rule ``pay-cap``,
    mints the overview's receipt: allowed at L0 by pay-cap."""
    agent.policy(PAY_CAP)
    monkeypatch.setenv("HESO_WORKFLOW", "vendor-payouts")
    monkeypatch.setenv("HESO_ACCOUNT", "acct_19")
    ns = agent.run(PROCESS_EXAMPLE)
    assert ns["outcome"].kind is heso.OutcomeKind.ALLOWED
    receipt = agent.last("stripe.transfers.create")
    expected = PAYMENT_RECEIPT["content"]
    content = receipt["content"]
    assert receipt["alg"] == PAYMENT_RECEIPT["alg"]
    assert content["action_version"] == expected["action_version"]
    assert content["action"] == expected["action"]
    assert content["policy"]["rule_id"] == "pay-cap"
    assert content["policy"]["rule_display"] == expected["policy"]["rule_display"]
    ((matched,),) = [content["policy"]["matched_conditions"]]
    assert (matched["field"], matched["op"], str(matched["value"])) == ("amount_usd", "lte", "5000")
    assert content["policy"]["decision"] == "allow" and content["trust_level"] == "L0"
    assert [(s["algorithm"], s["key_id"]) for s in receipt["signatures"]] == [
        ("Ed25519", "operator")
    ]
    code, out = agent.cli("verify", content["action_hash"][:16])
    assert (code, out.strip()) == (0, "Valid (L0)")


def test_process_of_a_blocked_payment(agent, monkeypatch):
    """Over the cap a rule blocks it: with blocking on heso refuses before the snippet's own
    check (``BlockedError``); observe-only, the snippet's check raises."""
    agent.policy(
        PAY_CAP + '[[rule]]\nid = "pay-over-cap"\norder = 2\nverb = "payment"\nscope = "*"\n'
        'decision = "block"\n'
    )
    blocked = PROCESS_EXAMPLE.code.replace('"4200"', '"9800"')
    with pytest.raises(heso.BlockedError):
        agent.run(Snippet(PROCESS_EXAMPLE.seed, PROCESS_EXAMPLE.section, blocked))
    monkeypatch.setenv("HESO_BLOCKING", "false")
    with pytest.raises(RuntimeError, match="policy blocked this payment"):
        agent.run(Snippet(PROCESS_EXAMPLE.seed, PROCESS_EXAMPLE.section, blocked))


def test_gated_parks_then_runs_once_after_approval(agent):
    agent.register_approver()
    ns = agent.run(GATED_EXAMPLE)
    assert ns["out"] is heso.SUSPENDED
    assert agent.world.count("bank.wire") == 0  # the body runs ONLY after an approver approves
    (pending,) = agent.pending()
    agent.approve(pending["action_hash"])
    assert ns["wire_funds"]("Globex LLC", 50_000, _heso_session="payout-7") == "wired"
    assert agent.world.count("bank.wire") == 1
    assert ns["wire_funds"]("Globex LLC", 50_000, _heso_session="payout-7") is heso.SUSPENDED
    assert agent.world.count("bank.wire") == 1  # after it fired: SUSPENDED, never twice


def test_append_decision_then_resume(agent):
    ns = agent.run(GATED_EXAMPLE)
    assert ns["out"] is heso.SUSPENDED and agent.world.count("bank.wire") == 0
    agent.run(RESUME_EXAMPLE, ns=ns)
    assert heso.decision("payout-7") == "approved"
    assert agent.world.count("bank.wire") == 0  # a bare resume never runs the body
    assert ns["wire_funds"]("Globex LLC", 50_000, _heso_session="payout-7") == "wired"
    assert agent.world.count("bank.wire") == 1


ADAPTER_NAMES = [
    ("HesoCallbackHandler", None),
    ("crewai", "heso_before_hook"),
    ("openai_agents", None),
    ("claude_agent", None),
    ("pydantic_ai", None),
    ("langgraph", None),
    ("mcp", "wrap_call_tool"),
]


@pytest.mark.parametrize(("name", "attr"), ADAPTER_NAMES)
def test_framework_adapters_are_reached_through_heso(name, attr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)  # CrewAI's lazy subpackages, on import
        value = getattr(heso, name)
        if attr is not None:
            assert callable(getattr(value, attr))
    if name == "HesoCallbackHandler":
        value()  # heso.HesoCallbackHandler() as the page passes it


# == 002: the quickstart =======================================================================


def test_heso_init_scaffolds_and_is_safe_to_run_again(agent):
    root = agent.root
    for name in ("heso_bootstrap.py", "heso.toml", "heso-local-data/DEV-ONLY.passphrase"):
        assert (root / name).is_file(), name
    assert "heso-local-data/" in (root / ".gitignore").read_text().splitlines()
    key, policy = (root / "heso-local-data/operator.key").read_bytes(), "# edited\n"
    (root / "heso.toml").write_text((root / "heso.toml").read_text() + policy)
    code, out = agent.cli("init")
    assert code == 0 and "heso demo" in out
    assert (root / "heso-local-data/operator.key").read_bytes() == key
    assert (root / "heso.toml").read_text().endswith(policy)
    bootstrap = (root / "heso_bootstrap.py").read_text()
    assert "import heso" in bootstrap and "heso.init()" in bootstrap
    agent.run(BOOTSTRAP)


def test_heso_demo_then_verify_and_show_what_it_printed(agent):
    code, out = agent.cli("demo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "minting your first receipts through the engine:"
    assert lines[1].startswith("  allow     ") and lines[1].endswith("->  Valid (L0)")
    assert lines[2].startswith("  redacted  ") and lines[2].endswith("->  Valid (L0)")
    assert f"  receipts written to {agent.root}/heso-local-data/receipts.jsonl" in lines
    verify = next(line.strip() for line in lines if line.strip().startswith("heso verify "))
    prefix = verify.split()[2]
    code, shown = agent.cli(*verify.split()[1:])
    assert (code, shown.strip()) == (0, "Valid (L0)")
    code, receipt_json = agent.cli("show", prefix)
    assert code == 0 and json.loads(receipt_json)["content"]["action_hash"].startswith(prefix)
    Path("receipt.json").write_text(receipt_json)
    code, shown = agent.cli("verify", "./receipt.json")
    assert (code, shown.strip()) == (0, "Valid (L0)")
    Path("receipt.json").write_text(receipt_json.replace("refund policy", "refund policies"))
    assert agent.cli("verify", "./receipt.json")[0] == 1  # exits 1 on anything but Valid


def test_gate_a_tool_and_its_refusal(agent):
    agent.policy(
        '[[rule]]\nid = "no-forbidden-searches"\norder = 1\nverb = "tool_call"\n'
        'scope = "search"\nconditions = [{ field = "query", op = "contains", value = "forbids" }]\n'
        'decision = "block"\n'
    )
    ns = agent.run(SEARCH_TOOL)
    assert ns["results"] == "3 results"
    agent.run(SEARCH_BLOCKED, ns=ns)
    assert [args for name, args in agent.world.calls if name == "web.search"] == [
        ("quarterly revenue, ACME Corp",)
    ]
    assert agent.last("search")["content"]["policy"]["decision"] == "block"


def test_destructive_rides_the_delete_floor_even_when_policy_allows(agent):
    agent.policy(
        '[[rule]]\nid = "allow-deletes"\norder = 1\nverb = "delete"\nscope = "*"\n'
        'decision = "allow"\n'
    )
    ns = agent.run(SEARCH_TOOL, DELETE_RECORD)
    with pytest.raises(heso.SuspendedError):
        ns["delete_record"]("r-1")
    assert agent.world.count("db.delete") == 0


def test_redact_a_field(agent):
    ns = agent.run(SEARCH_TOOL, PARTNER_API)
    assert ns["call_partner_api"]("sk-live-5150", "https://api.partner.example/v1/quote") == {
        "quote": 42
    }
    fields = agent.last("call_partner_api")["content"]["action"]["fields"]
    assert fields["api_key"]["heso_redacted"] == "commit"
    assert fields["endpoint"] == "https://api.partner.example/v1/quote"
    for path in (agent.root / "heso-local-data").rglob("*"):
        if path.is_file():
            assert b"sk-live-5150" not in path.read_bytes(), path


def test_gate_an_llm_client(agent, providers):
    ns = agent.run(QUICKSTART_WRAP)
    assert ns["response"].choices[0].message.content
    assert agent.last()["content"]["action"]["tool_name"] == "chat.completions.create"


def test_step_labels_every_action_in_the_block(agent):
    ns = agent.run(SEARCH_TOOL, PARTNER_API)
    agent.run(QUICKSTART_STEP, ns=ns)
    for tool in ("search", "call_partner_api"):
        assert agent.last(tool)["content"]["action"]["workflow"] == "run-42", tool
    assert agent.cli("verify", "--chain")[0] == 0


AGENT_PY = """
import heso

@heso.tool
def search(query: str) -> str:
    return "3 results"

def run():
    print(search("quarterly revenue, ACME Corp"))
"""


@pytest.mark.parametrize(("main_py", "module"), [(MAIN_PY, "agent"), (CLI_MAIN_PY, "my_agent")])
def test_the_bootstrap_module_inits_before_the_agent_runs(agent, main_py, module):
    (agent.root / f"{module}.py").write_text(AGENT_PY)
    (agent.root / "main.py").write_text(main_py.code)
    done = subprocess.run(
        [sys.executable, "main.py"],
        cwd=agent.root,
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == "3 results\n", done.stderr
    assert agent.last("search")["content"]["policy"]["decision"] == "allow"


# == 003: the CLI ==============================================================================


def test_help_and_init_of_a_named_directory(agent):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "init" in agent.capsys.readouterr().out
    assert agent.cli("init", "my-agent")[0] == 0
    for name in ("heso_bootstrap.py", "heso.toml", ".gitignore"):
        assert (agent.root / "my-agent" / name).is_file(), name
