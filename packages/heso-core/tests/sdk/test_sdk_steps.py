"""heso.step: nesting, fall-through, redaction union, and isolation across threads and tasks."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading

import pytest

import heso
from heso.capture import capture


def _wa(project):
    return [
        (r["content"]["action"]["workflow"], r["content"]["action"]["account"])
        for r in project.receipts()
    ]


def _record(name="t", **fields):
    capture("tool_call", name, fields)


def test_steps_nest_inner_wins_and_unset_values_fall_through(sdk_project):
    _record()
    with heso.step(workflow="billing", account="acme") as frame:
        assert (frame.workflow, frame.account) == ("billing", "acme")
        _record()
        with heso.step(account="globex"):
            _record()
            with heso.step(workflow="refunds"):
                _record()
            _record()
        _record()
    _record()
    assert _wa(sdk_project) == [
        ("default", "default"),
        ("billing", "acme"),
        ("billing", "globex"),
        ("refunds", "globex"),
        ("billing", "globex"),
        ("billing", "acme"),
        ("default", "default"),
    ]


def test_step_values_fall_back_to_the_configured_workflow(heso_project):
    heso_project.init(workflow="nightly", account="ops")
    _record()
    with heso.step(account="acme"):
        _record()
    assert _wa(heso_project) == [("nightly", "ops"), ("nightly", "acme")]


def test_explicit_capture_arguments_beat_the_step(sdk_project):
    with heso.step(workflow="billing"):
        capture("tool_call", "t", {}, workflow="explicit")
    assert _wa(sdk_project) == [("explicit", "default")]


def test_step_exits_cleanly_when_the_body_raises(sdk_project):
    with pytest.raises(RuntimeError), heso.step(workflow="w"):
        raise RuntimeError("boom")
    _record()
    assert _wa(sdk_project) == [("default", "default")]


def test_redact_lists_are_unioned_across_nested_steps(sdk_project):
    @heso.tool
    def call(card: str, ssn: str, name: str) -> None: ...

    with heso.step(redact=["card"]):
        with heso.step(redact=["ssn"]):
            call("card-one", "ssn-one", "ann")
        call("card-two", "ssn-two", "bob")
    call("card-three", "ssn-three", "cy")
    first, second, third = (r["content"]["action"]["fields"] for r in sdk_project.receipts())
    assert first["card"]["heso_redacted"] and first["ssn"]["heso_redacted"]
    assert first["name"] == "ann"
    assert second["card"]["heso_redacted"] and second["ssn"] == "ssn-two"
    assert third == {"card": "card-three", "ssn": "ssn-three", "name": "cy"}
    text = json.dumps(sdk_project.receipts())
    assert "card-one" not in text and "ssn-one" not in text and "card-two" not in text


def test_step_rejects_empty_names():
    with pytest.raises(ValueError, match="workflow"):
        heso.step(workflow="")
    with pytest.raises(ValueError, match="account"):
        heso.step(account=3)  # type: ignore[arg-type]


def test_step_as_decorator_sync_and_async(sdk_project):
    @heso.step(workflow="decorated")
    def work() -> None:
        _record("sync")

    @heso.step(account="async-acct")
    async def awork() -> None:
        await asyncio.sleep(0)
        _record("async")

    work()
    asyncio.run(awork())
    _record("after")
    assert _wa(sdk_project) == [
        ("decorated", "default"),
        ("default", "async-acct"),
        ("default", "default"),
    ]


async def test_async_with_step(sdk_project):
    async with heso.step(workflow="aw"):
        await asyncio.sleep(0)
        _record()
    _record()
    assert _wa(sdk_project) == [("aw", "default"), ("default", "default")]


def test_steps_are_thread_local_even_when_interleaved(sdk_project):
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def agent(workflow: str) -> None:
        try:
            with heso.step(workflow=workflow):
                barrier.wait()  # both threads are inside their step now
                _record(workflow)
                barrier.wait()
            barrier.wait()  # one may have left its step while the other records
            _record(f"{workflow}-after")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=agent, args=(w,)) for w in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = {
        r["content"]["action"]["tool_name"]: r["content"]["action"]["workflow"]
        for r in sdk_project.receipts()
    }
    assert got == {
        "alpha": "alpha",
        "beta": "beta",
        "alpha-after": "default",
        "beta-after": "default",
    }


def test_one_step_object_shared_by_threads(sdk_project):
    shared = heso.step(workflow="shared")
    barrier = threading.Barrier(2)

    def agent(name: str) -> None:
        with shared:
            barrier.wait()
            _record(name)
        barrier.wait()
        _record(f"{name}-after")

    threads = [threading.Thread(target=agent, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = {
        r["content"]["action"]["tool_name"]: r["content"]["action"]["workflow"]
        for r in sdk_project.receipts()
    }
    assert got == {"a": "shared", "b": "shared", "a-after": "default", "b-after": "default"}


def test_a_new_thread_starts_outside_the_step_unless_given_the_context(sdk_project):
    with heso.step(workflow="parent"):
        plain = threading.Thread(target=_record, args=("plain",))
        plain.start()
        plain.join()
        ctx = contextvars.copy_context()
        carried = threading.Thread(target=ctx.run, args=(_record, "carried"))
        carried.start()
        carried.join()
    got = {
        r["content"]["action"]["tool_name"]: r["content"]["action"]["workflow"]
        for r in sdk_project.receipts()
    }
    assert got == {"plain": "default", "carried": "parent"}


async def test_steps_are_task_local_and_tasks_inherit_their_creator(sdk_project):
    entered = asyncio.Event()
    release = asyncio.Event()

    async def agent(workflow: str, first: bool) -> None:
        async with heso.step(workflow=workflow):
            if first:
                entered.set()
                await release.wait()
            else:
                await entered.wait()
                release.set()
            await asyncio.sleep(0)
            _record(workflow)
            child = asyncio.create_task(_child(workflow))
        await child

    async def _child(parent: str) -> None:
        await asyncio.sleep(0)
        _record(f"{parent}-child")

    await asyncio.gather(agent("one", True), agent("two", False))
    got = {
        r["content"]["action"]["tool_name"]: r["content"]["action"]["workflow"]
        for r in sdk_project.receipts()
    }
    assert got == {"one": "one", "two": "two", "one-child": "one", "two-child": "two"}
