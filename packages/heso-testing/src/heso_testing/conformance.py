"""The adapter conformance suite: the standard cases every framework adapter must pass.

An adapter's test module subclasses :class:`AdapterConformance` and supplies how to drive ONE
scripted agent run offline (a fake or function model calls one tool once, then finishes)
through the REAL framework::

    class TestAcmeConformance(AdapterConformance):
        supports_native_pause = True

        def run(self, tools, tool_name, arguments, *, mode):
            model = FakeModel(calls=[(tool_name, arguments)])
            agent = acme.Agent(model, tools.sync_tools(), hooks=[heso_acme.Gate(mode=mode)])
            out = agent.run("go")
            return RunResult(tool_output=out.tool_text, paused=out.paused, state=out)

        async def arun(self, tools, tool_name, arguments, *, mode): ...  # tools.async_tools()

        def resume(self, result, *, approved): ...  # continue result.state

``run``/``arun``/``resume`` may let an exception escape: the suite records it as
:attr:`RunResult.raised`. Each standard case is a test method whose docstring says how to fix
a failure; :meth:`AdapterConformance.test_standard_cases_are_kept` fails when a subclass drops
or overrides a case without a reason in :attr:`AdapterConformance.skipped_cases`.
:func:`conformance_context` gives an adapter's own tests the same project and helpers.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import typing
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field

from heso_testing.project import PINNED_CLOCK, Project, make_project

__all__ = [
    "APPROVAL_DISPLAY",
    "APPROVAL_RULE",
    "APPROVER",
    "APPROVER_GROUP",
    "BLOCK_DISPLAY",
    "BLOCK_RULE",
    "CONFORMANCE_POLICY",
    "FORCE_DISPLAY",
    "FORCE_RULE",
    "PII_DISPLAY",
    "PII_RULE",
    "SECRET",
    "STANDARD_CASES",
    "AdapterConformance",
    "ConformanceContext",
    "ConformanceTools",
    "Contact",
    "FlushOptions",
    "Line",
    "RunResult",
    "TicketDetails",
    "conformance_context",
    "find_exception",
]

BLOCK_RULE = "no-rockets"
BLOCK_DISPLAY = "rocket launches are never allowed"
APPROVAL_RULE = "escalations-need-oncall"
APPROVAL_DISPLAY = "ticket escalations need on-call approval"
APPROVER_GROUP = "oncall"
APPROVER = "alice"
PII_RULE = "no-pii-export"
PII_DISPLAY = "reports with personal data are never exported"
FORCE_RULE = "no-forced-flush"
FORCE_DISPLAY = "forced cache flushes are never allowed"
APPROVER_PASSPHRASE = "conformance approver passphrase"
SECRET = "sk-conformance-4f1d9a7e-DO-NOT-LEAK"
"""The ``api_key`` of the redaction case: it must appear nowhere in ``heso-local-data/``."""

CONFORMANCE_POLICY = f"""
[policy]
default = "allow"

[[rule]]
id = "{BLOCK_RULE}"
verb = "tool_call"
scope = "launch_rocket"
decision = "block"
display = "{BLOCK_DISPLAY}"

[[rule]]
id = "{APPROVAL_RULE}"
verb = "tool_call"
scope = "escalate_ticket"
decision = "require_approval"
approvers = ["{APPROVER_GROUP}"]
display = "{APPROVAL_DISPLAY}"

[[rule]]
id = "{PII_RULE}"
verb = "tool_call"
scope = "export_report"
decision = "block"
display = "{PII_DISPLAY}"
conditions = [{{ field = "include_pii", op = "eq", value = true }}]

[[rule]]
id = "{FORCE_RULE}"
verb = "tool_call"
scope = "flush_cache"
decision = "block"
display = "{FORCE_DISPLAY}"
conditions = [{{ field = "options.force", op = "eq", value = true }}]
"""
"""Allow by default; ``launch_rocket`` is blocked, ``escalate_ticket`` needs ``oncall``;
``export_report`` with ``include_pii`` true (its default) and ``flush_cache`` with
``options.force`` true are blocked.

The suite's project appends ``[approvers.oncall]`` with a freshly made approver key."""

STANDARD_CASES: tuple[str, ...] = (
    "test_allowed",
    "test_blocked",
    "test_require_approval",
    "test_redaction",
    "test_identity",
    "test_async_allowed",
    "test_async_blocked",
    "test_fail_closed",
    "test_observe_only",
    "test_omitted_default_hits_rule",
    "test_coerced_arguments",
    "test_structured_arguments",
    "test_identity_with_defaults",
)
"""The standard test methods; dropping or overriding one needs a reason in ``skipped_cases``."""

GATE_COMPONENTS = ("policy", "signing", "chain")


# -- the standard tools ----------------------------------------------------------------------


class FlushOptions(BaseModel):
    """How ``flush_cache`` flushes."""

    force: bool = False
    paths: list[str] = Field(default_factory=list)


class Contact(BaseModel):
    """Who a ticket is about."""

    name: str
    email: str


class Line(BaseModel):
    """One line of a ticket."""

    label: str
    count: int = 1


class TicketDetails(BaseModel):
    """Nested ticket data: lists, models inside a model, a list of models."""

    tags: list[str]
    lines: list[Line]
    contact: Contact


class ConformanceTools:
    """The standard tools as plain typed, documented functions that record their calls.

    ``lookup_order`` (allowed; ``limit`` defaults to 3), ``launch_rocket`` (blocked),
    ``escalate_ticket`` (needs approval), ``send_secret`` (allowed; run under
    ``heso.step(redact=["api_key"])``), ``export_report`` (blocked while ``include_pii``, which
    defaults to true), ``flush_cache`` (a pydantic-model argument; blocked when
    ``options.force``), ``file_ticket`` (allowed; nested, unicode and pydantic-model
    arguments). The ``a_*`` coroutine variants are exposed to the model under the same names
    (their ``__name__`` is ``lookup_order`` etc.) and record under those names too. Each
    records the arguments exactly as its body received them.
    """

    NAMES: ClassVar[tuple[str, ...]] = (
        "lookup_order",
        "launch_rocket",
        "escalate_ticket",
        "send_secret",
        "export_report",
        "flush_cache",
        "file_ticket",
    )

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """``(tool_name, kwargs)`` of every body that ran, in order."""
        record = self._record

        def lookup_order(order_id: str, limit: int = 3) -> str:
            """Look up an order by its id and return its latest status events."""
            return record("lookup_order", order_id=order_id, limit=limit) or (
                f"order {order_id}: shipped ({limit} events)"
            )

        def launch_rocket(target: str) -> str:
            """Launch a rocket at the target."""
            return record("launch_rocket", target=target) or f"launched at {target}"

        def escalate_ticket(ticket_id: str, note: str) -> str:
            """Escalate a support ticket to the on-call engineer with a note."""
            return record("escalate_ticket", ticket_id=ticket_id, note=note) or (
                f"escalated {ticket_id}"
            )

        def send_secret(recipient: str, api_key: str) -> str:
            """Send an API key to a recipient."""
            return record("send_secret", recipient=recipient, api_key=api_key) or (
                f"sent a key to {recipient}"
            )

        def export_report(fmt: str, include_pii: bool = True) -> str:
            """Export the customer report in a format, with or without personal data."""
            return record("export_report", fmt=fmt, include_pii=include_pii) or (
                f"exported a {fmt} report"
            )

        def flush_cache(region: str, options: FlushOptions) -> str:
            """Flush the cache of a region."""
            return record("flush_cache", region=region, options=options) or f"flushed {region}"

        def file_ticket(title: str, details: TicketDetails) -> str:
            """File a support ticket with structured details."""
            return record("file_ticket", title=title, details=details) or f"filed {title}"

        async def a_lookup_order(order_id: str, limit: int = 3) -> str:
            """Look up an order by its id and return its latest status events."""
            return lookup_order(order_id, limit)

        async def a_launch_rocket(target: str) -> str:
            """Launch a rocket at the target."""
            return launch_rocket(target)

        async def a_escalate_ticket(ticket_id: str, note: str) -> str:
            """Escalate a support ticket to the on-call engineer with a note."""
            return escalate_ticket(ticket_id, note)

        async def a_send_secret(recipient: str, api_key: str) -> str:
            """Send an API key to a recipient."""
            return send_secret(recipient, api_key)

        async def a_export_report(fmt: str, include_pii: bool = True) -> str:
            """Export the customer report in a format, with or without personal data."""
            return export_report(fmt, include_pii)

        async def a_flush_cache(region: str, options: FlushOptions) -> str:
            """Flush the cache of a region."""
            return flush_cache(region, options)

        async def a_file_ticket(title: str, details: TicketDetails) -> str:
            """File a support ticket with structured details."""
            return file_ticket(title, details)

        sync = (
            lookup_order,
            launch_rocket,
            escalate_ticket,
            send_secret,
            export_report,
            flush_cache,
            file_ticket,
        )
        coroutines = (
            a_lookup_order,
            a_launch_rocket,
            a_escalate_ticket,
            a_send_secret,
            a_export_report,
            a_flush_cache,
            a_file_ticket,
        )
        for fn in coroutines:
            fn.__name__ = fn.__qualname__ = fn.__name__[2:]
        for func in (*sync, *coroutines):
            # Real types, not this module's postponed annotation strings: some frameworks
            # build their argument models without the function's globals.
            func.__annotations__ = typing.get_type_hints(func)
        self._sync = {fn.__name__: fn for fn in sync}
        self._async = {fn.__name__: fn for fn in coroutines}

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))

    def count(self, name: str) -> int:
        """How many times the body of ``name`` (sync or async variant) ran."""
        return sum(1 for called, _ in self.calls if called == name)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        tools = self.__dict__.get("_async" if name.startswith("a_") else "_sync", {})
        fn = tools.get(name[2:] if name.startswith("a_") else name)
        if fn is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return fn  # type: ignore[no-any-return]

    def sync_tools(self) -> list[Callable[..., str]]:
        """The sync functions, in :attr:`NAMES` order."""
        return [self._sync[name] for name in self.NAMES]

    def async_tools(self) -> list[Callable[..., Awaitable[str]]]:
        """The coroutine functions (named like the sync ones), in :attr:`NAMES` order."""
        return [self._async[name] for name in self.NAMES]

    def received(self, name: str) -> list[dict[str, Any]]:
        """The arguments each run of ``name``'s body received, as JSON values (the form a
        receipt records them in)."""
        from heso.canonical import to_json_value

        return [to_json_value(kwargs) for called, kwargs in self.calls if called == name]

    def get(self, name: str, *, asynchronous: bool = False) -> Callable[..., Any]:
        """The tool ``name``; its coroutine variant with ``asynchronous=True``."""
        if name not in self.NAMES:
            raise KeyError(f"no conformance tool {name!r}; known: {', '.join(self.NAMES)}")
        return (self._async if asynchronous else self._sync)[name]


@dataclass
class RunResult:
    """What one scripted agent run produced."""

    raised: BaseException | None = None
    """What escaped the run, if anything (the suite fills it when ``run`` raises)."""
    tool_output: str | None = None
    """The text the model received for the tool call (message mode)."""
    paused: bool = False
    """The framework paused natively (interrupt / deferred / needs_approval)."""
    state: Any = None
    """Opaque handle the subclass needs to resume."""


def find_exception(exc: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` in ``exc``, its ``__cause__``/``__context__`` chain or its groups."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        todo.extend(getattr(current, "exceptions", None) or ())
        todo.extend((current.__cause__, current.__context__))
    return None


def _describe(result: RunResult) -> str:
    raised = f"{type(result.raised).__name__}: {result.raised}" if result.raised else None
    return f"raised={raised!r}, tool_output={result.tool_output!r}, paused={result.paused}"


# -- the project the suite runs in -----------------------------------------------------------


class _Broken:
    """Stands in for one runtime component; ``method`` raises, everything else delegates."""

    def __init__(self, inner: Any, method: str) -> None:
        self._inner = inner
        self._method = method

    def __getattr__(self, name: str) -> Any:
        if name == self._method:

            def broken(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError(f"conformance: {name} was forced to crash")

            return broken
        return getattr(self._inner, name)


@dataclass
class ConformanceContext:
    """A temporary project with :data:`CONFORMANCE_POLICY`, heso initialised at
    :data:`~heso_testing.project.PINNED_CLOCK`, a real approver key, and helpers."""

    project: Project
    monkeypatch: pytest.MonkeyPatch
    approver: str = APPROVER
    start: int = 0
    """Receipts in the chain when the case started; the helpers count only newer ones."""
    _broken: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.project.data_dir

    def init(self, *, blocking: bool = True) -> None:
        """(Re)initialise heso for the project; receipts so far stop counting."""
        import heso

        heso.init(project_root=self.project.root, clock_override=PINNED_CLOCK, blocking=blocking)
        self.mark()

    def mark(self) -> None:
        """Count only receipts minted from now on."""
        self.start = len(self.project.receipts())

    # -- receipts ----------------------------------------------------------------------------

    def receipts(
        self, tool_name: str | None = None, *, verb: str | None = "tool_call"
    ) -> list[dict[str, Any]]:
        """Receipts minted since :meth:`mark`, optionally of one tool and verb (``None``: any)."""
        found = self.project.receipts()[self.start :]
        return [
            r
            for r in found
            if (verb is None or r["content"]["action"]["verb"] == verb)
            and (tool_name is None or r["content"]["action"]["tool_name"] == tool_name)
        ]

    def decisions(self, tool_name: str | None = None) -> list[str]:
        """The policy decisions of the new receipts (``allow``, ``block``, ...)."""
        return [r["content"]["policy"]["decision"] for r in self.receipts(tool_name)]

    def assert_receipts(self, **expected: int) -> None:
        """``assert_receipts(lookup_order=1, launch_rocket=0)``: new tool-call receipts per
        tool, with their decisions in the message when a count is off."""
        got = {name: len(self.receipts(name)) for name in expected}
        if got != expected:
            seen = [
                (r["content"]["action"]["tool_name"], r["content"]["policy"]["decision"])
                for r in self.receipts(verb=None)
            ]
            raise AssertionError(
                f"new receipts per tool: expected {expected}, got {got}; all new receipts "
                f"(tool, decision): {seen}"
            )

    def verify_chain(self) -> Any:
        """Seal the chain and verify it (approver co-signatures against ``heso.toml``)."""
        from heso import config
        from heso.approvals.registry import load_project_registry
        from heso.ledger import verify_chain

        config.current().ledger.seal()
        approvers = load_project_registry(self.project.root).approver_keys()
        return verify_chain(self.data_dir, approver_keys=approvers)

    def assert_chain_valid(self) -> None:
        verdict = self.verify_chain()
        assert verdict.ok, f"verify_chain: {verdict}"

    def data_contains(self, needle: str) -> list[Path]:
        """Files under ``heso-local-data/`` whose bytes contain ``needle``."""
        raw = needle.encode("utf-8")
        return [
            p for p in sorted(self.data_dir.rglob("*")) if p.is_file() and raw in p.read_bytes()
        ]

    # -- approvals ---------------------------------------------------------------------------

    def pending(self) -> dict[str, str]:
        """``action_hash -> session`` of every action awaiting a decision."""
        from heso.approvals.file_store import FileApprovalStore

        return dict(FileApprovalStore(self.data_dir).open_hashes())

    def session_of(self, action_hash: str) -> str | None:
        """The approval session that suspended ``action_hash``, if any."""
        from heso.approvals.file_store import FileApprovalStore

        return dict(FileApprovalStore(self.data_dir).all_hashes()).get(action_hash)

    def approve(self, action_hash: str) -> dict[str, Any]:
        """Sign an approval with the approver's own key (``heso approve``)."""
        return self._decide("approve", action_hash)

    def deny(self, action_hash: str) -> dict[str, Any]:
        """Sign a denial with the approver's own key (``heso deny``)."""
        return self._decide("deny", action_hash)

    def _decide(self, verb: str, action_hash: str) -> dict[str, Any]:
        from heso.cli import main

        out = io.StringIO()
        argv = [verb, action_hash, "--as", self.approver, "--project", str(self.project.root)]
        with contextlib.redirect_stdout(out):
            code = main([*argv, "--json"])
        data = json.loads(out.getvalue() or "null")
        assert code == 0, f"heso {verb} failed: {data}"
        return dict(data)

    # -- fault injection ---------------------------------------------------------------------

    def break_gate(self, component: str) -> None:
        """Make the runtime's ``policy`` evaluation, ``signing`` or ``chain`` append raise."""
        from heso import config

        rt = config.current()
        attr, method = {
            "policy": ("policy", "evaluate"),
            "signing": ("key", "sign"),
            "chain": ("ledger", "append"),
        }[component]
        self.monkeypatch.setattr(rt, attr, _Broken(getattr(rt, attr), method))
        self._broken.append(component)


@contextlib.contextmanager
def conformance_context(
    root: Path, monkeypatch: pytest.MonkeyPatch, *, policy: str = CONFORMANCE_POLICY
) -> Iterator[ConformanceContext]:
    """A project at ``root / "project"`` with ``policy`` plus ``[approvers.oncall]`` (a fresh
    approver key in ``root / "approver-device"``), heso initialised at the pinned clock; heso
    is shut down on exit. Adapters use it for their own tests beyond the standard cases."""
    import heso
    from heso.approvals.identity import new_approver

    for name in list(os.environ):
        if name.startswith("HESO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")
    monkeypatch.setenv("HESO_APPROVER_HOME", str(root / "approver-device"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", APPROVER_PASSPHRASE)
    # The approver CLI and the operator runtime must read the same clock.
    monkeypatch.setenv("HESO_CLOCK", PINNED_CLOCK)
    _, public = new_approver(APPROVER)
    approvers = f'\n[approvers.{APPROVER_GROUP}]\nmembers = {{ {APPROVER} = "{public}" }}\n'
    ctx = ConformanceContext(make_project(root / "project", policy + approvers), monkeypatch)
    ctx.init(blocking=True)
    try:
        yield ctx
    finally:
        heso.shutdown()


# -- the suite -------------------------------------------------------------------------------


class AdapterConformance:
    """Subclass as ``class TestXConformance(AdapterConformance)`` and implement :meth:`run`
    (and :meth:`arun`, :meth:`resume` per the capability flags)."""

    supports_async: bool = True
    """The framework has an async run path (:meth:`arun`)."""
    supports_native_pause: bool = False
    """``require_approval`` pauses the run natively and :meth:`resume` continues it."""
    refusal_modes: tuple[str, ...] = ("raise", "message")
    """The adapter's refusal modes under test; each mode-dependent case runs once per mode."""
    skipped_cases: ClassVar[dict[str, str]] = {}
    """Standard test name -> why this adapter cannot pass it (non-empty)."""

    # -- what a subclass supplies ------------------------------------------------------------

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        """Drive one agent run where the fake model calls ``tool_name(**arguments)`` once and
        then finishes, gated by the adapter in refusal ``mode``."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        """:meth:`run` through the framework's async path."""
        raise NotImplementedError(
            f"{type(self).__name__} sets supports_async but does not implement arun()"
        )

    def resume(self, result: RunResult, *, approved: bool) -> RunResult:
        """Continue a natively paused run (``result.paused``) after the approver decided."""
        raise NotImplementedError(
            f"{type(self).__name__} sets supports_native_pause but does not implement resume()"
        )

    # -- plumbing ----------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "mode" in metafunc.fixturenames:
            metafunc.parametrize("mode", list(self.refusal_modes))
        if "component" in metafunc.fixturenames:
            metafunc.parametrize("component", list(GATE_COMPONENTS))

    @pytest.fixture
    def conformance(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[ConformanceContext]:
        """The project every standard case runs in; heso is shut down afterwards."""
        with conformance_context(tmp_path, monkeypatch) as ctx:
            yield ctx

    @pytest.fixture
    def tools(self) -> ConformanceTools:
        return ConformanceTools()

    def _skip_if_listed(self, name: str) -> None:
        reason = self.skipped_cases.get(name)
        if reason:
            pytest.skip(reason)

    def _run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], mode: str
    ) -> RunResult:
        try:
            result = self.run(tools, tool_name, dict(arguments), mode=mode)
        except Exception as exc:
            return RunResult(raised=exc)
        assert isinstance(result, RunResult), f"run() must return a RunResult, not {result!r}"
        return result

    async def _arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], mode: str
    ) -> RunResult:
        if not self.supports_async:
            pytest.skip(
                self.skipped_cases.get("test_async_allowed") or "the framework has no async path"
            )
        try:
            result = await self.arun(tools, tool_name, dict(arguments), mode=mode)
        except Exception as exc:
            return RunResult(raised=exc)
        assert isinstance(result, RunResult), f"arun() must return a RunResult, not {result!r}"
        return result

    def _resume(self, result: RunResult, approved: bool) -> RunResult:
        try:
            after = self.resume(result, approved=approved)
        except Exception as exc:
            return RunResult(raised=exc)
        assert isinstance(after, RunResult), f"resume() must return a RunResult, not {after!r}"
        return after

    # -- shared checks -----------------------------------------------------------------------

    @staticmethod
    def _check_allowed(ctx: ConformanceContext, tools: ConformanceTools, result: RunResult) -> None:
        assert result.raised is None, f"the allowed run failed: {_describe(result)}"
        assert tools.count("lookup_order") == 1, (
            f"lookup_order ran {tools.count('lookup_order')} times, expected once: the adapter "
            "must let an allowed call through exactly once (not re-invoke it)"
        )
        ctx.assert_receipts(lookup_order=1)
        assert ctx.decisions("lookup_order") == ["allow"]
        ctx.assert_chain_valid()

    def _check_blocked(
        self, ctx: ConformanceContext, tools: ConformanceTools, result: RunResult, mode: str
    ) -> None:
        from heso.errors import BlockedError

        assert tools.count("launch_rocket") == 0, (
            "launch_rocket's body ran although policy blocks it: the adapter's gate failed "
            "open (a swallowed exception, an async handler on a sync path, or a hook that "
            "runs after the body)"
        )
        ctx.assert_receipts(launch_rocket=1)
        (receipt,) = ctx.receipts("launch_rocket")
        policy = receipt["content"]["policy"]
        assert (policy["decision"], policy["rule_id"]) == ("block", BLOCK_RULE), policy
        if mode == "raise":
            err = find_exception(result.raised, BlockedError)
            assert isinstance(err, BlockedError), (
                f"raise mode must let heso.BlockedError out of the run (wrapping is fine): "
                f"{_describe(result)}"
            )
            assert err.rule_id == BLOCK_RULE
        else:
            assert result.raised is None, f"message mode must not raise: {_describe(result)}"
            assert result.tool_output is not None and BLOCK_DISPLAY in result.tool_output, (
                f"message mode must hand the model a refusal containing the rule's display "
                f"text {BLOCK_DISPLAY!r}: {_describe(result)}"
            )
        ctx.assert_chain_valid()

    # -- the standard cases ------------------------------------------------------------------

    def test_allowed(self, conformance: ConformanceContext, tools: ConformanceTools) -> None:
        """An allowed tool call runs once and mints one ``allow`` receipt in a valid chain.

        If this fails: the adapter must call the core's capture path exactly once per tool
        call (``heso.capture.gate``), before the body, and then run the body once.
        """
        self._skip_if_listed("test_allowed")
        result = self._run(tools, "lookup_order", {"order_id": "A-1", "limit": 2}, "raise")
        self._check_allowed(conformance, tools, result)

    def test_blocked(
        self, conformance: ConformanceContext, tools: ConformanceTools, mode: str
    ) -> None:
        """A blocked call never runs; its receipt records ``block`` by rule ``no-rockets``.

        If this fails in raise mode: let ``heso.BlockedError`` propagate out of the run (do not
        catch it; the framework may wrap it). In message mode: return the refusal to the model
        as the tool's result, containing ``outcome.reason`` (the rule's display text).
        """
        self._skip_if_listed("test_blocked")
        result = self._run(tools, "launch_rocket", {"target": "moon"}, mode)
        self._check_blocked(conformance, tools, result, mode)

    def test_require_approval(
        self, conformance: ConformanceContext, tools: ConformanceTools, mode: str
    ) -> None:
        """A ``require_approval`` call never runs before a decision and opens a pending
        approval; with a native pause, a signed approval then runs it exactly once on resume
        without minting the suspended receipt again, and a signed denial never runs it.

        If this fails: gate the call once (``heso.capture.gate``/``capture``); in raise mode
        let ``heso.SuspendedError`` out; in message mode tell the model the call awaits
        approval; with a native pause, remember the action (not re-capture it) across the
        framework's resume and fire it only once the approvals API says ``approved``.
        """
        from heso.errors import GateRefusal, SuspendedError

        self._skip_if_listed("test_require_approval")
        ctx = conformance
        args = {"ticket_id": "T-7", "note": "customer is down"}
        result = self._run(tools, "escalate_ticket", args, mode)
        assert tools.count("escalate_ticket") == 0, (
            "escalate_ticket's body ran before anyone approved it"
        )
        ctx.assert_receipts(escalate_ticket=1)
        (receipt,) = ctx.receipts("escalate_ticket")
        policy = receipt["content"]["policy"]
        assert (policy["decision"], policy["rule_id"]) == ("require_approval", APPROVAL_RULE)
        action_hash = receipt["content"]["action_hash"]
        assert action_hash in ctx.pending(), (
            "no pending approval for the suspended action: capture through the core, which "
            "opens it (heso.approvals)"
        )
        if self.supports_native_pause:
            assert result.paused and result.raised is None, (
                f"supports_native_pause: the run must pause natively: {_describe(result)}"
            )
        elif mode == "raise":
            assert isinstance(find_exception(result.raised, SuspendedError), SuspendedError), (
                f"raise mode must let heso.SuspendedError out of the run: {_describe(result)}"
            )
        else:
            assert result.raised is None and result.tool_output, (
                f"message mode must tell the model the call awaits approval: {_describe(result)}"
            )
            assert APPROVAL_DISPLAY in result.tool_output, result.tool_output
        ctx.assert_chain_valid()
        if not self.supports_native_pause:
            return

        ctx.approve(action_hash)
        after = self._resume(result, approved=True)
        assert after.raised is None and not after.paused, (
            f"the approved run must complete: {_describe(after)}"
        )
        assert tools.count("escalate_ticket") == 1, (
            f"after approval the body must run exactly once, ran "
            f"{tools.count('escalate_ticket')} times"
        )
        mine = ctx.receipts("escalate_ticket")
        assert {r["content"]["action_hash"] for r in mine} == {action_hash}, (
            "resuming captured the action again: re-entry must find the suspended action, "
            "not mint a new receipt"
        )
        assert sum(1 for r in mine if len(r["signatures"]) == 1) == 1, (
            "the suspended receipt was minted twice"
        )
        assert action_hash not in ctx.pending()
        ctx.assert_chain_valid()

        # A second action, denied by the approver, never runs.
        denied_args = {"ticket_id": "T-8", "note": "please"}
        result = self._run(tools, "escalate_ticket", denied_args, mode)
        assert result.paused, f"the second run must pause too: {_describe(result)}"
        second = [
            r["content"]["action_hash"]
            for r in ctx.receipts("escalate_ticket")
            if r["content"]["action_hash"] != action_hash
        ]
        assert len(second) == 1, second
        ctx.deny(second[0])
        after = self._resume(result, approved=False)
        assert tools.count("escalate_ticket") == 1, "a denied action ran"
        assert not after.paused, f"a denied run must not pause again: {_describe(after)}"
        if mode == "raise":
            assert isinstance(find_exception(after.raised, GateRefusal), GateRefusal), (
                f"raise mode: a denial surfaces as a heso.GateRefusal: {_describe(after)}"
            )
        else:
            assert after.raised is None and after.tool_output, (
                f"message mode: the model is told the call was denied: {_describe(after)}"
            )
        ctx.assert_chain_valid()

    def test_redaction(self, conformance: ConformanceContext, tools: ConformanceTools) -> None:
        """Under ``heso.step(redact=["api_key"])`` the receipt holds a commitment marker and
        the cleartext is nowhere in ``heso-local-data/``.

        If this fails: capture in the caller's context (``contextvars``) so the enclosing
        ``heso.step`` applies: copy the context into worker threads the framework uses.
        """
        import heso

        self._skip_if_listed("test_redaction")
        with heso.step(redact=["api_key"]):
            result = self._run(
                tools, "send_secret", {"recipient": "bob", "api_key": SECRET}, "raise"
            )
        assert result.raised is None, _describe(result)
        assert tools.calls == [("send_secret", {"recipient": "bob", "api_key": SECRET})], (
            "the tool must still receive the real value"
        )
        conformance.assert_receipts(send_secret=1)
        (receipt,) = conformance.receipts("send_secret")
        marker = receipt["content"]["action"]["fields"]["api_key"]
        assert isinstance(marker, dict) and marker.get("heso_redacted"), (
            f"api_key was not redacted: {marker!r}"
        )
        assert "commitment" in marker, marker
        assert receipt["content"]["action"]["fields"]["recipient"] == "bob"
        leaks = conformance.data_contains(SECRET)
        assert leaks == [], f"the redacted cleartext leaked into {leaks}"
        conformance.assert_chain_valid()

    def test_identity(self, conformance: ConformanceContext, tools: ConformanceTools) -> None:
        """The receipt content of ``lookup_order(order_id="A-1", limit=2)`` is byte-identical
        to the one the core mints directly (:mod:`heso_testing.reference`).

        If this fails: pass verb ``tool_call``, the tool's own name and exactly the call's
        arguments as fields, and nothing the core would not set itself.
        """
        from heso_testing.reference import LogicalCall, assert_same_content, reference_content

        self._skip_if_listed("test_identity")
        arguments = {"order_id": "A-1", "limit": 2}
        result = self._run(tools, "lookup_order", arguments, "raise")
        assert result.raised is None, _describe(result)
        (surface,) = conformance.receipts("lookup_order")
        expected = reference_content(LogicalCall("tool_call", "lookup_order", arguments))
        assert_same_content(surface, expected)

    async def test_async_allowed(
        self, conformance: ConformanceContext, tools: ConformanceTools
    ) -> None:
        """The allowed case through the framework's async path.

        If this fails: gate the async path too, with the same capture call; if the framework
        has no async path, set ``supports_async = False`` and give the reason in
        ``skipped_cases["test_async_allowed"]``.
        """
        self._skip_if_listed("test_async_allowed")
        result = await self._arun(tools, "lookup_order", {"order_id": "A-1", "limit": 2}, "raise")
        self._check_allowed(conformance, tools, result)

    async def test_async_blocked(
        self, conformance: ConformanceContext, tools: ConformanceTools, mode: str
    ) -> None:
        """The blocked case through the framework's async path: the body never runs.

        If this fails: an async hook's exception is often swallowed on a sync tool path
        (langchain-core); gate with a hook that propagates on every path.
        """
        self._skip_if_listed("test_async_blocked")
        result = await self._arun(tools, "launch_rocket", {"target": "moon"}, mode)
        self._check_blocked(conformance, tools, result, mode)

    def test_fail_closed(
        self,
        conformance: ConformanceContext,
        tools: ConformanceTools,
        mode: str,
        component: str,
    ) -> None:
        """With the gate crashing (policy, signing or chain append), an allowed tool's body
        never runs while blocking is on, and nothing is chained.

        If this fails: the framework swallowed the gate's ``heso.BridgeError`` and ran the
        body (fail open). Use the fail-closed form of the seam (SEAMS.md: a sync
        ``raise_error=True`` handler, ``HookAborted``, ``on_failure="block"``) or catch the
        error in the adapter and refuse.
        """
        from heso.errors import HesoError

        self._skip_if_listed("test_fail_closed")
        conformance.break_gate(component)
        result = self._run(tools, "lookup_order", {"order_id": "A-1"}, mode)
        assert tools.count("lookup_order") == 0, (
            f"the gate crashed ({component}) but the body ran: the adapter fails open"
        )
        assert conformance.receipts(verb=None) == []
        if mode == "raise":
            assert isinstance(find_exception(result.raised, HesoError), HesoError), (
                f"raise mode: the gate failure must surface as a heso error: {_describe(result)}"
            )

    def test_observe_only(self, conformance: ConformanceContext, tools: ConformanceTools) -> None:
        """With ``blocking=False`` blocked and approval-needing tools both run, and their
        receipts still record the real decisions.

        If this fails: use ``outcome.runs`` (or ``heso.capture.gate``, which never raises a
        refusal in observe-only mode) rather than ``outcome.allowed`` to decide.
        """
        self._skip_if_listed("test_observe_only")
        conformance.init(blocking=False)
        mode = self.refusal_modes[0]
        for name, args in (
            ("launch_rocket", {"target": "moon"}),
            ("escalate_ticket", {"ticket_id": "T-9", "note": "fyi"}),
        ):
            result = self._run(tools, name, args, mode)
            assert result.raised is None and not result.paused, (
                f"observe-only must not refuse or pause {name}: {_describe(result)}"
            )
            assert tools.count(name) == 1, f"observe-only: {name} must run once"
        conformance.assert_receipts(launch_rocket=1, escalate_ticket=1)
        assert conformance.decisions("launch_rocket") == ["block"]
        assert conformance.decisions("escalate_ticket") == ["require_approval"]
        conformance.assert_chain_valid()

    # -- what runs is what is gated ---------------------------------------------------------

    def test_omitted_default_hits_rule(
        self, conformance: ConformanceContext, tools: ConformanceTools, mode: str
    ) -> None:
        """A model that leaves out ``include_pii`` (default ``True``) is blocked by the rule
        ``include_pii eq true``: the receipt records ``{"fmt": "csv", "include_pii": true}``
        and the body never runs. With ``include_pii=False`` the call runs, and its receipt
        records exactly what the body received.

        If this fails: gate the arguments the body will receive, after the framework's
        validation, coercion and defaults (``heso.adapters.call_fields`` binds a call as
        ``@heso.tool`` does), not the model's raw arguments.
        """
        from heso.errors import BlockedError

        self._skip_if_listed("test_omitted_default_hits_rule")
        ctx = conformance
        result = self._run(tools, "export_report", {"fmt": "csv"}, mode)
        assert tools.count("export_report") == 0, (
            f"export_report ran with include_pii={tools.received('export_report')}: the "
            f"adapter gated the model's arguments without the parameter's default"
        )
        ctx.assert_receipts(export_report=1)
        (receipt,) = ctx.receipts("export_report")
        assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}
        policy = receipt["content"]["policy"]
        assert (policy["decision"], policy["rule_id"]) == ("block", PII_RULE), policy
        if mode == "raise":
            err = find_exception(result.raised, BlockedError)
            assert isinstance(err, BlockedError) and err.rule_id == PII_RULE, _describe(result)
        else:
            assert result.tool_output is not None and PII_DISPLAY in result.tool_output, _describe(
                result
            )

        ctx.mark()
        result = self._run(tools, "export_report", {"fmt": "csv", "include_pii": False}, mode)
        assert result.raised is None, _describe(result)
        assert tools.received("export_report") == [{"fmt": "csv", "include_pii": False}]
        (receipt,) = ctx.receipts("export_report")
        assert receipt["content"]["action"]["fields"] == tools.received("export_report")[0]
        ctx.assert_chain_valid()

    def test_coerced_arguments(
        self, conformance: ConformanceContext, tools: ConformanceTools
    ) -> None:
        """Arguments the framework coerces or pre-parses before the body sees them are gated
        as the body sees them: sent ``include_pii="true"`` or ``options='{"force": true}'``
        (a JSON string for a pydantic-model parameter), the body never receives a value the
        rules forbid, and every body that runs received exactly the fields of an ``allow``
        receipt. (A framework that rejects such input itself runs nothing.)

        If this fails: gate the framework's validated arguments (the ones its validation hands
        the body), not the raw text the model sent.
        """
        self._skip_if_listed("test_coerced_arguments")
        ctx = conformance
        mode = self.refusal_modes[-1]
        attacks = (
            ("export_report", {"fmt": "csv", "include_pii": "true"}, PII_RULE),
            ("flush_cache", {"region": "eu", "options": '{"force": true}'}, FORCE_RULE),
        )
        for name, arguments, rule in attacks:
            self._run(tools, name, arguments, mode)
            received = tools.received(name)
            forbidden = [
                r
                for r in received
                if r.get("include_pii") is True
                or (isinstance(r.get("options"), dict) and r["options"].get("force") is True)
            ]
            assert not forbidden, (
                f"{name} ran with {forbidden} although the model sent {arguments}: the adapter "
                "gated the raw arguments, then the framework coerced them into what the rule "
                "forbids"
            )
            receipts = ctx.receipts(name)
            allowed = [
                r["content"]["action"]["fields"]
                for r in receipts
                if r["content"]["policy"]["decision"] == "allow"
            ]
            assert all(r in allowed for r in received), (
                f"{name}'s body received {received}, but the allow receipts record {allowed}"
            )
            for receipt in receipts:
                policy = receipt["content"]["policy"]
                assert policy["decision"] == "allow" or policy["rule_id"] == rule, policy
            ctx.mark()
        ctx.assert_chain_valid()

    def test_structured_arguments(
        self, conformance: ConformanceContext, tools: ConformanceTools
    ) -> None:
        """Nested, unicode and pydantic-model arguments: the receipt's fields are exactly what
        the body received (as JSON), and its content is byte-identical to ``@heso.tool``'s for
        the same call.

        If this fails: pass the validated arguments to the core as they are (the core turns
        pydantic models, tuples and unicode into canonical JSON itself); do not ``str()``,
        re-encode or flatten them.
        """
        from heso_testing.reference import LogicalCall, assert_same_content, reference_content

        self._skip_if_listed("test_structured_arguments")
        arguments = {
            "title": "Zoë's café ✓ 日本語 \U0001f680",
            "details": {
                "tags": ["ünïcode", "emoji-\U0001f4a5", ""],
                "lines": [{"label": "ключ", "count": 2}, {"label": "a.b", "count": 0}],
                "contact": {"name": "Zoë O'Brien", "email": "zoe@example.com"},
            },
        }
        result = self._run(tools, "file_ticket", arguments, "raise")
        assert result.raised is None, _describe(result)
        assert tools.received("file_ticket") == [arguments]
        (surface,) = conformance.receipts("file_ticket")
        assert surface["content"]["action"]["fields"] == arguments
        expected = reference_content(LogicalCall("tool_call", "file_ticket", arguments))
        assert_same_content(surface, expected)

    def test_identity_with_defaults(
        self, conformance: ConformanceContext, tools: ConformanceTools
    ) -> None:
        """``lookup_order(order_id="A-1")`` (``limit`` left out) mints the receipt content
        ``@heso.tool`` mints for the same call: ``{"order_id": "A-1", "limit": 3}``.

        If this fails: gate the bound arguments with the parameters' defaults applied.
        """
        from heso_testing.reference import LogicalCall, assert_same_content, reference_content

        self._skip_if_listed("test_identity_with_defaults")
        result = self._run(tools, "lookup_order", {"order_id": "A-1"}, "raise")
        assert result.raised is None, _describe(result)
        assert tools.received("lookup_order") == [{"order_id": "A-1", "limit": 3}]
        (surface,) = conformance.receipts("lookup_order")
        fields = {"order_id": "A-1", "limit": 3}
        assert_same_content(
            surface, reference_content(LogicalCall("tool_call", "lookup_order", fields))
        )

    # -- the guard ---------------------------------------------------------------------------

    def test_standard_cases_are_kept(self) -> None:
        """Every standard case is inherited unchanged, or listed in ``skipped_cases`` with a
        reason.

        If this fails: delete your override of the named case, or add
        ``skipped_cases = {"<case>": "<why this framework cannot pass it>"}``.
        """
        cls = type(self)
        unknown = sorted(set(self.skipped_cases) - set(STANDARD_CASES))
        assert not unknown, f"skipped_cases names unknown cases {unknown}; known: {STANDARD_CASES}"
        for name, reason in self.skipped_cases.items():
            assert isinstance(reason, str) and reason.strip(), (
                f"skipped_cases[{name!r}] needs a non-empty reason"
            )
        changed = [
            name
            for name in STANDARD_CASES
            if getattr(cls, name, None) is not AdapterConformance.__dict__[name]
            and name not in self.skipped_cases
        ]
        assert not changed, (
            f"{cls.__name__} overrides or deletes standard cases {changed} without a reason "
            "in skipped_cases"
        )
        if not self.supports_async:
            for name in ("test_async_allowed", "test_async_blocked"):
                assert self.skipped_cases.get(name), (
                    f"supports_async = False needs skipped_cases[{name!r}] saying why"
                )
        if self.supports_native_pause:
            assert type(self).resume is not AdapterConformance.resume, (
                "supports_native_pause = True needs resume()"
            )
        assert type(self).run is not AdapterConformance.run, "implement run()"
        assert set(self.refusal_modes) <= {"raise", "message"} and self.refusal_modes, (
            f"refusal_modes must be a non-empty subset of ('raise', 'message'), not "
            f"{self.refusal_modes!r}"
        )
