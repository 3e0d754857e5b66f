"""The capture-identity contract: the same logical call yields byte-identical receipt content
whichever surface captured it (decorators, wrap, process, `with gate`, step), under a pinned clock.

The adapter conformance suite reuses :mod:`heso_testing.reference` for the same check.
"""

from __future__ import annotations

import pytest

import heso
from heso.capture import capture, gate
from heso_testing.reference import (
    LogicalCall,
    assert_same_content,
    content_bytes,
    reference_content,
)

FIELDS = {"to": "a@example.com", "subject": "hi", "count": 3, "tags": ["x", "y"], "cc": None}


def _last(project):
    return project.receipts()[-1]


@pytest.fixture
def project(sdk_project):
    return sdk_project


def test_decorator_matches_the_reference(project):
    @heso.tool(name="notify")
    def notify(to, subject, count, tags, cc=None):
        return "ok"

    notify("a@example.com", "hi", 3, ("x", "y"))
    assert_same_content(
        _last(project), reference_content(LogicalCall("tool_call", "notify", FIELDS))
    )


def test_every_functional_surface_matches_the_reference(project):
    expected = reference_content(LogicalCall("tool_call", "notify", FIELDS))
    surfaces = {
        "capture": lambda: capture("tool_call", "notify", FIELDS),
        "gate": lambda: gate(heso.Verb.TOOL_CALL, "notify", dict(FIELDS)),
        "process": lambda: heso.process(heso.Action(heso.Verb.TOOL_CALL, "notify", FIELDS)),
    }
    for name, run in surfaces.items():
        run()
        assert content_bytes(_last(project)) == content_bytes(expected), name
    with gate("tool_call", "notify", FIELDS) as outcome:
        assert heso.current_action_hash() == outcome.action_hash
    assert_same_content(_last(project), expected)


async def test_with_gate_runs_the_block_as_the_action(project):
    """``with gate(...)`` (and ``async with``) names the receipt inside the block only."""
    with gate("tool_call", "notify", FIELDS) as outcome:
        inside = heso.current_action_hash()
        with gate("tool_call", "nested", {}) as nested:
            assert heso.current_action_hash() == nested.action_hash
        assert heso.current_action_hash() == inside
    assert inside == outcome.action_hash and inside is not None
    assert heso.current_action_hash() is None
    async with gate("tool_call", "notify", {**FIELDS, "count": 4}) as later:
        assert heso.current_action_hash() == later.action_hash != outcome.action_hash
    assert heso.current_action_hash() is None


def test_workflow_and_account_from_step_or_arguments_are_the_same(project):
    call = LogicalCall("tool_call", "notify", FIELDS, workflow="billing", account="acme")
    expected = reference_content(call)

    @heso.tool
    def notify(to, subject, count, tags, cc=None): ...

    with heso.step(workflow="billing", account="acme"):
        notify(**FIELDS)
    assert_same_content(_last(project), expected)
    heso.process(
        heso.Action(heso.Verb.TOOL_CALL, "notify", FIELDS, workflow="billing", account="acme")
    )
    assert_same_content(_last(project), expected)
    with heso.step(workflow="billing"):
        capture("tool_call", "notify", FIELDS, account="acme")
    assert_same_content(_last(project), expected)


def test_catalog_action_decorator_matches_process(project):
    call = LogicalCall(
        "tool_call", "lookup", {"table": "users"}, domain="data", action_id="read_records"
    )
    expected = reference_content(call)

    @heso.action("data.read_records")
    def lookup(table): ...

    lookup("users")
    assert_same_content(_last(project), expected)
    heso.process(
        heso.Action(
            heso.Verb.TOOL_CALL,
            "lookup",
            {"table": "users"},
            domain="data",
            action_id="read_records",
        )
    )
    assert_same_content(_last(project), expected)


def test_refused_calls_are_identical_too(project):
    expected = reference_content(LogicalCall("tool_call", "run_shell", {"command": "rm -rf /"}))
    assert expected["policy"]["decision"] == "block"

    @heso.tool
    def run_shell(command): ...

    with pytest.raises(heso.BlockedError):
        run_shell("rm -rf /")
    assert_same_content(_last(project), expected)


def test_redaction_is_part_of_the_contract(project):
    call = LogicalCall("tool_call", "login", {"user": "ann", "password": "pw"}, redact=["password"])
    reference = reference_content(call)

    @heso.tool(redact=["password"])
    def login(user, password): ...

    login("ann", "pw")
    surface = _last(project)["content"]
    # Commit-mode markers are salted per capture, so compare everything else exactly.
    assert surface["action"]["fields"]["password"]["heso_redacted"]
    assert {k: v for k, v in surface["action"].items() if k != "fields"} == {
        k: v for k, v in reference["action"].items() if k != "fields"
    }
    assert surface["action"]["fields"]["user"] == reference["action"]["fields"]["user"] == "ann"
    assert surface["policy"] == reference["policy"]


def test_wrap_matches_the_reference(project, oai, fake_provider):
    messages = [{"role": "user", "content": "hello"}]
    oai.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=5)
    call = LogicalCall(
        "llm_call",
        "chat.completions.create",
        {"model": "gpt-4o-mini", "messages": messages, "max_tokens": 5},
    )
    assert_same_content(_last(project), reference_content(call))
    oai.with_raw_response.chat.completions.create(
        model="gpt-4o-mini", messages=messages, max_tokens=5
    )
    assert_same_content(_last(project), reference_content(call))


async def test_async_surfaces_match(project, aoai, fake_provider):
    @heso.tool(name="notify")
    async def notify(to, subject, count, tags, cc=None): ...

    await notify(**FIELDS)
    assert_same_content(
        _last(project), reference_content(LogicalCall("tool_call", "notify", FIELDS))
    )
    messages = [{"role": "user", "content": "hello"}]
    await aoai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    call = LogicalCall(
        "llm_call", "chat.completions.create", {"model": "gpt-4o-mini", "messages": messages}
    )
    assert_same_content(_last(project), reference_content(call))


def test_assert_same_content_explains_a_difference(project):
    a = reference_content(LogicalCall("tool_call", "notify", {"x": 1}))
    b = reference_content(LogicalCall("tool_call", "notify", {"x": 2}))
    with pytest.raises(AssertionError, match=r'-\s+"x": 2'):
        assert_same_content(a, b)
