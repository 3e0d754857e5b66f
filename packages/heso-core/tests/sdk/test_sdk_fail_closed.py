"""Fail closed: when anything inside the gate fails with blocking on, the body never runs and
the caller gets a BridgeError (setup problems stay HesoConfigError)."""

from __future__ import annotations

import pytest

import heso
from heso.capture import gate


def _break(monkeypatch, target, attr, exc=None):
    def broken(*args, **kwargs):
        raise exc or RuntimeError(f"{attr} exploded")

    monkeypatch.setattr(target, attr, broken)


def _components():
    rt = heso.config.current()
    return {
        "policy": (rt.policy, "evaluate", "evaluating the policy"),
        "signing": (type(rt.key), "sign", "signing the receipt"),
        "chain": (rt.ledger, "append", "writing the audit chain"),
    }


@pytest.mark.parametrize("component", ["policy", "signing", "chain"])
def test_sync_body_never_runs_when_the_core_fails(sdk_project, monkeypatch, component):
    target, attr, stage = _components()[component]
    _break(monkeypatch, target, attr)
    ran = []

    @heso.tool
    def f() -> None:
        ran.append(1)

    with pytest.raises(heso.BridgeError, match=stage) as err:
        f()
    assert ran == []
    assert isinstance(err.value.__cause__, RuntimeError)
    assert isinstance(err.value, heso.HesoError)


@pytest.mark.parametrize("component", ["policy", "signing", "chain"])
async def test_async_body_never_runs_when_the_core_fails(sdk_project, monkeypatch, component):
    target, attr, _ = _components()[component]
    _break(monkeypatch, target, attr)
    ran = []

    @heso.tool
    async def f() -> None:
        ran.append(1)

    with pytest.raises(heso.BridgeError):
        await f()
    assert ran == []


def test_chain_errors_surface_as_bridge_errors(sdk_project, monkeypatch):
    from heso.errors import ChainError

    _break(monkeypatch, heso.config.current().ledger, "append", ChainError("chain is locked"))
    with pytest.raises(heso.BridgeError, match="chain is locked") as err:
        gate("tool_call", "t", {})
    assert isinstance(err.value.__cause__, ChainError)


def test_a_failing_approval_hook_refuses_the_call(sdk_project, monkeypatch):
    from heso.approvals import pending

    _break(monkeypatch, pending, "park")

    @heso.destructive
    def drop(table: str) -> None:
        raise AssertionError("must not run")

    with pytest.raises(heso.BridgeError, match="opening the approval"):
        drop("users")


def test_wrapped_client_never_reaches_the_provider(sdk_project, oai, fake_provider, monkeypatch):
    _break(monkeypatch, heso.config.current().ledger, "append")
    with pytest.raises(heso.BridgeError):
        oai.chat.completions.create(model="gpt-4o-mini", messages=[])
    with pytest.raises(heso.BridgeError):
        oai.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
    assert fake_provider.count() == 0


def test_generator_body_never_runs(sdk_project, monkeypatch):
    _break(monkeypatch, heso.config.current().policy, "evaluate")
    ran = []

    @heso.tool
    def gen():
        ran.append(1)
        yield 1

    with pytest.raises(heso.BridgeError):
        next(gen())
    assert ran == []


@pytest.mark.parametrize("component", ["policy", "signing", "chain"])
def test_observe_only_runs_the_body_despite_the_failure(observe_project, monkeypatch, component):
    target, attr, _ = _components()[component]
    _break(monkeypatch, target, attr)
    ran = []

    @heso.tool
    def f() -> str:
        ran.append(1)
        return "ok"

    assert f() == "ok"
    assert ran == [1]
