"""The conformance suite run against two framework-free adapters (the core's own gate, and a
native pause resumed by making the call again), and its guard against dropped cases."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import heso
from heso.adapters import call_fields
from heso.capture import gate
from heso_testing.conformance import (
    AdapterConformance,
    ConformanceTools,
    RunResult,
    find_exception,
)


def _refused(mode: str, refusal: heso.GateRefusal) -> RunResult:
    if mode == "raise":
        raise refusal
    return RunResult(tool_output=str(refusal))


class TestCoreGateConformance(AdapterConformance):
    """The smallest adapter: the "framework" calls the tool the model asked for with Python's
    own binding (no validation: the body receives the model's values, defaults filled in),
    gated by ``heso.capture.gate`` with those bound arguments."""

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        fn = tools.get(tool_name)
        try:
            gate("tool_call", tool_name, call_fields(fn, (), arguments))
        except heso.GateRefusal as refusal:
            return _refused(mode, refusal)
        return RunResult(tool_output=fn(**arguments))

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        fn = tools.get(tool_name, asynchronous=True)
        try:
            gate("tool_call", tool_name, call_fields(fn, (), arguments))
        except heso.GateRefusal as refusal:
            return _refused(mode, refusal)
        return RunResult(tool_output=await fn(**arguments))


class TestCallAgainPauseConformance(AdapterConformance):
    """A natively pausing adapter built on the core's "call again to resume": a call that
    policy suspends pauses the run, and the resume makes the same call again
    (``with heso.capture.gate(...)``), which runs it once approved and refuses it once denied."""

    supports_native_pause = True

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        return self._call(tools.get(tool_name), tool_name, arguments, mode)

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        fn = tools.get(tool_name, asynchronous=True)
        try:
            with gate("tool_call", tool_name, call_fields(fn, (), arguments)):
                output = await fn(**arguments)
        except heso.SuspendedError:
            return RunResult(paused=True, state=(tools.get(tool_name), tool_name, arguments, mode))
        except heso.GateRefusal as refusal:
            return _refused(mode, refusal)
        return RunResult(tool_output=output)

    def resume(self, result: RunResult, *, approved: bool) -> RunResult:
        return self._call(*result.state)

    def _call(self, fn: Any, tool_name: str, arguments: dict[str, Any], mode: str) -> RunResult:
        try:
            with gate("tool_call", tool_name, call_fields(fn, (), arguments)):
                output = fn(**arguments)
        except heso.SuspendedError:
            return RunResult(paused=True, state=(fn, tool_name, arguments, mode))
        except heso.GateRefusal as refusal:
            return _refused(mode, refusal)
        return RunResult(tool_output=output)


def test_find_exception_searches_causes_contexts_and_groups():
    inner = heso.BlockedError("no", rule_id="r")
    try:
        try:
            raise inner
        except heso.BlockedError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as outer:
        wrapped = outer
    assert find_exception(wrapped, heso.BlockedError) is inner

    class Group(Exception):
        exceptions = (ValueError("x"), wrapped)

    group = Group("g")
    assert find_exception(group, heso.BlockedError) is inner
    assert find_exception(ValueError("x"), heso.BlockedError) is None
    assert find_exception(None, heso.BlockedError) is None


class _Overrides(TestCoreGateConformance):
    def test_blocked(self, conformance: Any, tools: Any, mode: str) -> None:  # pragma: no cover
        pass


class _Deletes(TestCoreGateConformance):
    test_fail_closed = None  # type: ignore[assignment]


class _EmptyReason(_Overrides):
    skipped_cases: ClassVar[dict[str, str]] = {"test_blocked": " "}


class _Reasoned(_Overrides):
    skipped_cases: ClassVar[dict[str, str]] = {"test_blocked": "the framework cannot block"}


class _Typo(TestCoreGateConformance):
    skipped_cases: ClassVar[dict[str, str]] = {"test_blokced": "typo"}


class _NoAsyncReason(TestCoreGateConformance):
    supports_async = False


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_Overrides, "overrides or deletes standard cases ['test_blocked']"),
        (_Deletes, "overrides or deletes standard cases ['test_fail_closed']"),
        (_EmptyReason, "needs a non-empty reason"),
        (_Typo, "unknown cases ['test_blokced']"),
        (_NoAsyncReason, "supports_async = False needs"),
    ],
)
def test_the_guard_refuses_dropped_cases_without_a_reason(cls, message):
    with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        cls().test_standard_cases_are_kept()


def test_the_guard_accepts_a_reasoned_skip():
    _Reasoned().test_standard_cases_are_kept()


def test_async_tools_are_exposed_under_the_sync_names():
    tools = ConformanceTools()
    assert [f.__name__ for f in tools.async_tools()] == list(ConformanceTools.NAMES)
    assert [f.__name__ for f in tools.sync_tools()] == list(ConformanceTools.NAMES)
    assert tools.lookup_order("A-1") == "order A-1: shipped (3 events)"
    assert tools.calls == [("lookup_order", {"order_id": "A-1", "limit": 3})]
    assert tools.count("lookup_order") == 1
    with pytest.raises(KeyError, match="known"):
        tools.get("rm_rf")
