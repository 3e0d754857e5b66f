"""@heso.tool, @heso.destructive and @heso.action: fields, refusals, introspection, forms."""

from __future__ import annotations

import asyncio
import inspect
import json
import typing

import pytest

import heso
from heso.capture import current_action_hash


def _actions(project):
    return [r["content"]["action"] for r in project.receipts()]


# -- allowed calls and their fields --------------------------------------------------------


def test_tool_runs_the_body_and_records_bound_arguments_with_defaults(sdk_project):
    calls = []

    @heso.tool
    def send_email(to: str, subject: str = "hello", *, cc: list[str] | None = None) -> str:
        calls.append(to)
        return f"sent to {to}"

    assert send_email("a@example.com") == "sent to a@example.com"
    assert calls == ["a@example.com"]
    (receipt,) = sdk_project.receipts()
    action = receipt["content"]["action"]
    assert action == {
        "verb": "tool_call",
        "tool_name": "send_email",
        "workflow": "default",
        "account": "default",
        "fields": {"to": "a@example.com", "subject": "hello", "cc": None},
    }
    assert receipt["content"]["policy"]["decision"] == "allow"


def test_var_args_and_kwargs_are_captured_under_their_names(sdk_project):
    @heso.tool
    def search(query, *terms, limit=3, **filters):
        return [query, terms, limit, filters]

    assert search("q", "a", "b", limit=5, lang="en") == ["q", ("a", "b"), 5, {"lang": "en"}]
    assert _actions(sdk_project)[0]["fields"] == {
        "query": "q",
        "terms": ["a", "b"],
        "limit": 5,
        "filters": {"lang": "en"},
    }


def test_name_overrides_the_tool_name_and_called_form_works(sdk_project):
    @heso.tool()
    def a() -> int:
        return 1

    @heso.tool(name="crm.lookup")
    def b() -> int:
        return 2

    assert (a(), b()) == (1, 2)
    assert [x["tool_name"] for x in _actions(sdk_project)] == ["a", "crm.lookup"]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1,), {}),
        ((1, 2), {}),
        ((1,), {"b": 3}),
        ((), {"a": 1, "c": 4}),
        ((1, 2), {"c": [1]}),
        ((), {}),  # missing a
        ((1, 2, 3), {}),  # too many
        ((1,), {"a": 2}),  # a twice
        ((1,), {"zzz": 2}),  # unknown
    ],
)
def test_fast_argument_binding_matches_inspect(args, kwargs):
    from heso.arguments import signature_binder

    def f(self, a, b=2, *, c=None): ...

    sig = inspect.signature(f)
    fast = signature_binder(sig)
    try:
        bound = sig.bind(object(), *args, **kwargs)
    except TypeError as exc:
        with pytest.raises(TypeError, match=str(exc).split("'")[0]):
            fast((object(), *args), kwargs)
        return
    bound.apply_defaults()
    expected = dict(bound.arguments)
    del expected["self"]
    assert fast((object(), *args), kwargs) == expected


def test_wrong_arguments_raise_type_error_and_record_nothing(sdk_project):
    @heso.tool
    def f(x: int) -> int:
        return x

    with pytest.raises(TypeError):
        f(1, 2)
    assert sdk_project.receipts() == []


# -- refusals ------------------------------------------------------------------------------


def test_blocked_tool_raises_before_the_body_and_records_the_block(sdk_project):
    ran = []

    @heso.tool
    def run_shell(command: str) -> None:
        ran.append(command)

    with pytest.raises(heso.BlockedError) as err:
        run_shell("rm -rf /")
    assert ran == []
    assert err.value.rule_id == "no-rm"
    assert "command removes files" in str(err.value)
    (receipt,) = sdk_project.receipts()
    assert err.value.action_hash == receipt["content"]["action_hash"]
    assert receipt["content"]["policy"]["decision"] == "block"
    run_shell("ls")
    assert ran == ["ls"]


def test_require_approval_raises_suspended_with_hash_rule_and_next_step(sdk_project):
    @heso.tool
    def send_email(to: str) -> None:
        raise AssertionError("must not run")

    with pytest.raises(heso.SuspendedError) as err:
        send_email("x@external.test")
    receipt = sdk_project.receipts()[-1]
    assert err.value.action_hash == receipt["content"]["action_hash"]
    assert err.value.rule_id == "email-review"
    assert err.value.approvers == ["oncall"]
    assert f"heso approve {err.value.action_hash[:12]}" in str(err.value)
    assert isinstance(err.value, heso.GateRefusal) and isinstance(err.value, heso.HesoError)


def test_destructive_is_a_delete_riding_the_delete_floor(sdk_project):
    @heso.destructive
    def drop_user(user_id: str) -> None:
        raise AssertionError("must not run")

    with pytest.raises(heso.SuspendedError) as err:
        drop_user("u1")
    assert err.value.rule_id == "heso:floor:delete"
    (action,) = _actions(sdk_project)
    assert (action["verb"], action["tool_name"], action["fields"]) == (
        "delete",
        "drop_user",
        {"user_id": "u1"},
    )


def test_destructive_called_form(sdk_project):
    @heso.destructive(name="purge")
    def f() -> None: ...

    with pytest.raises(heso.SuspendedError):
        f()
    assert _actions(sdk_project)[0]["tool_name"] == "purge"


# -- catalog actions -----------------------------------------------------------------------


def test_action_uses_the_catalog_verb_and_stamps_domain_and_action(sdk_project):
    # Payments are held for a human only where the operator asks for it (a floor).
    sdk_project.write_policy(
        '[policy]\ndefault = "allow"\n[policy.floors]\npayment = "require_approval"\n'
    )
    sdk_project.init()

    @heso.action("data.read_records")
    def read(table: str) -> str:
        return table

    @heso.action("payment.authorize_payment")
    def charge(amount: int) -> None:
        raise AssertionError("payments require approval")

    assert read("users") == "users"
    with pytest.raises(heso.SuspendedError) as err:
        charge(42)
    assert err.value.rule_id == "heso:floor:payment"
    first, second = _actions(sdk_project)
    assert (first["verb"], first["domain"], first["action"]) == (
        "tool_call",
        "data",
        "read_records",
    )
    assert (second["verb"], second["domain"], second["action"]) == (
        "payment",
        "payment",
        "authorize_payment",
    )
    assert second["tool_name"] == "charge"


def test_action_rejects_unknown_ids_at_decoration():
    with pytest.raises(ValueError, match=r"payment\.authorize_payment"):
        heso.action("payment.authorize_paymnt")
    with pytest.raises(TypeError, match=r"domain\.action_id"):
        heso.action(lambda: None)  # type: ignore[arg-type]


def test_gating_twice_is_refused():
    @heso.tool
    def f() -> None: ...

    with pytest.raises(TypeError, match="already gated"):
        heso.destructive(f)


# -- introspection -------------------------------------------------------------------------


def test_wrapper_keeps_name_doc_signature_and_type_hints():
    @heso.tool
    def lookup(customer_id: int, *, verbose: bool = False) -> dict[str, int]:
        """Find a customer."""
        return {}

    original = lookup.__wrapped__
    assert lookup.__name__ == "lookup" and lookup.__doc__ == "Find a customer."
    assert inspect.signature(lookup) == inspect.signature(original)
    assert typing.get_type_hints(lookup) == {
        "customer_id": int,
        "verbose": bool,
        "return": dict[str, int],
    }
    assert lookup.__heso_gate__.verb is heso.Verb.TOOL_CALL
    assert lookup.__heso_gate__.tool_name == "lookup"


async def test_async_wrapper_is_a_coroutine_function():
    @heso.tool
    async def fetch(url: str) -> str:
        return url

    assert inspect.iscoroutinefunction(fetch)
    assert list(inspect.signature(fetch).parameters) == ["url"]


# -- methods -------------------------------------------------------------------------------


def test_methods_leave_self_and_cls_out_of_fields(sdk_project):
    class Mailer:
        def __init__(self) -> None:
            self.sent: list[str] = []

        @heso.tool
        def send(self, to: str) -> str:
            self.sent.append(to)
            return to

        @heso.tool
        @classmethod
        def configure(cls, level: int) -> type:
            return cls

        @classmethod
        @heso.tool
        def configure2(cls, level: int) -> type:
            return cls

        @heso.tool
        @staticmethod
        def ping(host: str) -> str:
            return host

    m = Mailer()
    assert m.send("a@example.com") == "a@example.com" and m.sent == ["a@example.com"]
    assert Mailer.configure(1) is Mailer and m.configure2(2) is Mailer
    assert Mailer.ping("h") == "h"
    assert [(a["tool_name"], a["fields"]) for a in _actions(sdk_project)] == [
        ("send", {"to": "a@example.com"}),
        ("configure", {"level": 1}),
        ("configure2", {"level": 2}),
        ("ping", {"host": "h"}),
    ]
    assert list(inspect.signature(m.send).parameters) == ["to"]


# -- redaction -----------------------------------------------------------------------------


def test_redacted_argument_never_reaches_the_receipt_but_policy_sees_it(sdk_project):
    @heso.tool(redact=["command"])
    def run_shell(command: str, api_key: str = "k") -> None: ...

    run_shell("ls -la")
    with pytest.raises(heso.BlockedError):
        run_shell("rm -rf /tmp/x")
    text = json.dumps(sdk_project.receipts())
    assert "ls -la" not in text and "rm -rf" not in text
    for action in _actions(sdk_project):
        assert action["fields"]["command"]["heso_redacted"]
        assert action["fields"]["api_key"] == "k"


def test_redact_naming_no_parameter_fails_at_decoration():
    with pytest.raises(heso.HesoConfigError, match="apikey"):

        @heso.tool(redact=["apikey"])
        def f(api_key: str) -> None: ...

    @heso.tool(redact=["api_key", "payload.card"])
    def g(api_key: str, payload: dict) -> None: ...

    @heso.tool(redact=["anything"])
    def h(**kwargs: str) -> None: ...


# -- current_action_hash and async ---------------------------------------------------------


def test_current_action_hash_names_the_running_receipt(sdk_project):
    seen = []

    @heso.tool
    def f() -> None:
        seen.append(current_action_hash())

    assert heso.current_action_hash() is None
    f()
    assert heso.current_action_hash() is None
    assert seen == [sdk_project.receipts()[0]["content"]["action_hash"]]


async def test_async_tool_gates_on_await(sdk_project):
    seen = []

    @heso.tool
    async def run_shell(command: str) -> str:
        await asyncio.sleep(0)
        seen.append(heso.current_action_hash())
        return command

    assert await run_shell("ls") == "ls"
    with pytest.raises(heso.BlockedError):
        await run_shell("rm -rf /")
    hashes = [r["content"]["action_hash"] for r in sdk_project.receipts()]
    assert seen == hashes[:1] and len(hashes) == 2


async def test_concurrent_async_tools_each_see_their_own_hash(sdk_project):
    gate = asyncio.Event()
    seen: dict[str, str | None] = {}

    @heso.tool
    async def job(name: str) -> None:
        await gate.wait()
        seen[name] = heso.current_action_hash()

    tasks = [asyncio.create_task(job(n)) for n in ("a", "b", "c")]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    by_name = {
        r["content"]["action"]["fields"]["name"]: r["content"]["action_hash"]
        for r in sdk_project.receipts()
    }
    assert seen == by_name


# -- generators ----------------------------------------------------------------------------


def test_generator_tool_gates_on_first_iteration_and_scopes_the_hash(sdk_project):
    seen = []

    @heso.tool
    def rows(n: int):
        for i in range(n):
            seen.append(heso.current_action_hash())
            got = yield i
            if got is not None:
                seen.append(got)
        return "done"

    assert inspect.isgeneratorfunction(rows)
    gen = rows(2)
    assert sdk_project.receipts() == []
    assert next(gen) == 0
    assert heso.current_action_hash() is None  # not leaked between yields
    assert gen.send("hello") == 1
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"
    h = sdk_project.receipts()[0]["content"]["action_hash"]
    assert seen == [h, "hello", h]


def test_blocked_generator_raises_on_first_iteration(sdk_project):
    @heso.tool
    def run_shell(command: str):
        yield "ran"

    gen = run_shell("rm -rf /")
    with pytest.raises(heso.BlockedError):
        next(gen)


def test_generator_close_and_throw_reach_the_body(sdk_project):
    events = []

    @heso.tool
    def stream():
        try:
            yield 1
            yield 2
        except ValueError as exc:
            events.append(("caught", str(exc)))
            yield 3
        finally:
            events.append(("finally", heso.current_action_hash() is not None))

    gen = stream()
    assert next(gen) == 1
    assert gen.throw(ValueError("x")) == 3
    gen.close()
    assert events == [("caught", "x"), ("finally", True)]


async def test_async_generator_tool(sdk_project):
    seen = []

    @heso.tool
    async def ticks(n: int):
        for i in range(n):
            seen.append(heso.current_action_hash())
            yield i

    assert inspect.isasyncgenfunction(ticks)
    assert [i async for i in ticks(3)] == [0, 1, 2]
    h = sdk_project.receipts()[0]["content"]["action_hash"]
    assert seen == [h, h, h]
    with pytest.raises(heso.BlockedError):

        @heso.tool
        async def run_shell(command: str):
            yield command

        async for _ in run_shell("rm -rf /"):
            pass


# -- values without a JSON form ------------------------------------------------------------


def test_argument_without_json_form_refuses_the_call_when_blocking(sdk_project):
    ran = []

    @heso.tool
    def f(conn: object) -> None:
        ran.append(conn)

    with pytest.raises(heso.CanonicalizationError, match=r"fields\.conn"):
        f(object())
    assert ran == [] and sdk_project.receipts() == []


def test_gate_before_init_raises_config_error_and_body_never_runs(heso_project):
    ran = []

    @heso.tool
    def f() -> None:
        ran.append(1)

    with pytest.raises(heso.HesoConfigError, match=r"heso\.init\(\)"):
        f()
    assert ran == []
