"""The CrewAI hooks: a before-tool-call gate, the refusal it tells the model, an LLM gate.

CrewAI runs a tool unless a before-tool-call hook returns ``False`` or raises ``HookAborted``;
any other exception a hook raises is swallowed and the tool runs. So every failure inside the
gate becomes a ``HookAborted`` here. The refusals heso raises are turned into exceptions that
are both the heso error (``heso.BlockedError``, ``heso.SuspendedError``, ``heso.BridgeError``,
...) and a ``HookAborted`` (see :func:`as_abort`).

CrewAI drops the hook's reason and shows the model a fixed "Tool execution blocked by hook"
text; the paired after-tool-call hook replaces it (``mode="message"``) or raises the refusal
out of ``Crew.kickoff()`` (``mode="raise"``), since CrewAI re-raises a ``HookAborted`` from an
after-tool-call hook.

The gate decides on the arguments the tool receives: the hook validates the model's input with
the tool's ``args_schema`` as CrewAI will (coercion, defaults), binds it to the tool's function
(:func:`heso.adapters.call_fields`, so a default that lives only in the function counts too),
gates that, and writes the validated input back into ``ctx.tool_input``, the dict CrewAI hands
the tool, so the tool receives exactly what was gated. CrewAI's ReAct path keeps only the keys
the schema names before it validates: input that validates only that way (a schema forbidding
extra keys) is gated as that path would run it. Input the schema rejects either way is gated as
the model sent it (CrewAI then refuses it).

CrewAI has no pause: a ``require_approval`` call is refused, and the same call made again is
re-entered (:func:`heso.adapters.admit`): once heso's approvers approved, it runs exactly once,
and the after-tool-call hook records ``completed`` (CrewAI hands a tool's exception back as
text, so ``completed`` says the call returned to CrewAI).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from crewai.hooks import (
    HookAborted,
    LLMCallHookContext,
    ToolCallHookContext,
    register_after_tool_call_hook,
    register_before_llm_call_hook,
    register_before_tool_call_hook,
    unregister_after_tool_call_hook,
    unregister_before_llm_call_hook,
    unregister_before_tool_call_hook,
)
from crewai.hooks.dispatch import InterceptionPoint, get_scoped_hooks, scoped_hooks
from pydantic import BaseModel

from heso import BridgeError, CanonicalizationError, HesoError
from heso.adapters import MODES as MODES  # re-exported by heso_crewai
from heso.adapters import (
    Admission,
    Mode,
    Verb,
    admit,
    call_fields,
    check_mode,
    gate,
    refusal_text,
    to_json_value,
)

_ABORT_SOURCE = "heso"


# --- refusals as HookAborted -------------------------------------------------------------

_abort_types: dict[type[HesoError], type[HookAborted]] = {}


def _abort_init(self: HookAborted, error: HesoError) -> None:
    Exception.__init__(self, *error.args)
    self.__dict__.update(vars(error))
    if not getattr(self, "reason", None):
        self.reason = str(error)
    self.source = _ABORT_SOURCE


def as_abort(error: BaseException) -> HookAborted:
    """``error`` as an exception CrewAI treats as a deny: an instance of both
    ``crewai.hooks.HookAborted`` and ``error``'s heso class, with its attributes
    (``action_hash``, ``rule_id``, ``reason``, ...).

    An exception that is not a :class:`~heso.errors.HesoError` (a bug, a bad context) becomes
    a :class:`~heso.errors.BridgeError` first, with the original as ``__cause__``.
    """
    if isinstance(error, HookAborted):
        return error
    cause = error.__cause__
    if not isinstance(error, HesoError):
        cause = error
        error = BridgeError(
            f"the heso gate failed in the CrewAI hook: {type(error).__name__}: {error}"
        )
    cls = type(error)
    abort_cls = _abort_types.get(cls)
    if abort_cls is None:
        abort_cls = type(
            cls.__name__,
            (HookAborted, cls),
            {
                "__init__": _abort_init,
                "__module__": "heso_crewai",
                "__qualname__": cls.__name__,
                "__doc__": f"A ``{cls.__name__}`` that CrewAI treats as a deny (``HookAborted``).",
            },
        )
        _abort_types[cls] = abort_cls
    abort = abort_cls(error)
    abort.__cause__ = cause
    abort.__suppress_context__ = True
    return abort


# --- the hooks --------------------------------------------------------------------------


@dataclass
class _Call:
    """A tool call the before-hook saw, for the after-hook of the same call."""

    tool_name: str
    tool_input: Any
    abort: HookAborted | None
    admission: Admission | None


_call: ContextVar[_Call | None] = ContextVar("heso_crewai_call", default=None)


def _gate_tool(ctx: ToolCallHookContext) -> Admission:
    """Admit one tool call (re-entering its approved suspension, else gating it anew) with
    the arguments the tool will receive; raise when it may not run."""
    tool = getattr(ctx, "tool", None)
    schema = getattr(tool, "args_schema", None)
    if not (isinstance(schema, type) and issubclass(schema, BaseModel) and schema.model_fields):
        return admit(Verb.TOOL_CALL, ctx.tool_name, ctx.tool_input)
    for candidate in (ctx.tool_input, _known_keys(schema, ctx.tool_input)):
        try:
            validated = schema.model_validate(candidate).model_dump()
        except Exception:
            continue
        admission = admit(Verb.TOOL_CALL, ctx.tool_name, _bound(tool, validated))
        if candidate is ctx.tool_input:
            # What CrewAI hands the tool: exactly what was gated (validating it again changes
            # nothing).
            ctx.tool_input.clear()
            ctx.tool_input.update(validated)
        return admission
    return admit(Verb.TOOL_CALL, ctx.tool_name, ctx.tool_input)


def _known_keys(schema: type[BaseModel], tool_input: dict[str, Any]) -> dict[str, Any]:
    """``tool_input`` with only the keys the schema names, as CrewAI's ReAct path passes it."""
    try:
        names = schema.model_json_schema()["properties"].keys()
    except Exception:
        names = schema.model_fields.keys()
    return {k: v for k, v in tool_input.items() if k in names}


def _bound(tool: Any, validated: dict[str, Any]) -> dict[str, Any]:
    """``validated`` bound to the function the tool runs, with that function's defaults."""
    fn = getattr(tool, "func", None)
    owner = getattr(fn, "__self__", None)
    if owner is not None and getattr(fn, "__name__", None) == "_run":
        tool, fn = owner, getattr(owner, "func", None)  # a CrewStructuredTool of a BaseTool
    if fn is None:
        fn = getattr(tool, "_run", None)
    try:
        return call_fields(fn, (), validated) if callable(fn) else validated
    except (TypeError, ValueError):
        return validated


def _fail_closed(error: BaseException) -> HookAborted:
    try:
        return as_abort(error)
    except Exception:
        return HookAborted(reason="heso: the gate failed", source=_ABORT_SOURCE)


def heso_before_hook(ctx: ToolCallHookContext) -> None:
    """A before-tool-call hook for ``crewai.hooks.register_before_tool_call_hook``.

    Gates the call through heso; a refused call (blocked, waiting for approval, or the gate
    failed) never runs. On its own it cannot tell the model why (CrewAI shows a fixed
    "Tool execution blocked by hook" text) nor raise out of the run: use :func:`install` or
    :func:`scoped`, which pair it with an after-tool-call hook.
    """
    try:
        _gate_tool(ctx)
    except Exception as exc:
        abort = _fail_closed(exc)
        raise abort from abort.__cause__


class HesoHooks:
    """The heso hooks for CrewAI, with one refusal mode.

    ``mode="raise"`` (default): a refused tool call aborts the run; ``Crew.kickoff()`` raises
    the refusal, which is both the heso error (``heso.BlockedError``, ``heso.SuspendedError``,
    ``heso.BridgeError``) and a ``crewai.hooks.HookAborted``. ``mode="message"``: the model
    reads ``heso: blocked by rule <id>: <reason>`` as the tool's result and carries on.
    ``llm_calls=True`` also gates every LLM call (verb ``llm_call``, tool name = the model);
    a refused LLM call always raises, whatever the mode. Use :meth:`install` (global) or
    :meth:`scoped` (this context only); or register :meth:`before_tool_call` and
    :meth:`after_tool_call` yourself, always together.
    """

    def __init__(self, mode: Mode = "raise", *, llm_calls: bool = False) -> None:
        self.mode: Mode = check_mode(mode)
        self.llm_calls = llm_calls
        self._installed = False

    def __repr__(self) -> str:
        return f"HesoHooks(mode={self.mode!r}, llm_calls={self.llm_calls!r})"

    def before_tool_call(self, ctx: ToolCallHookContext) -> None:
        """Gate the call; raise ``HookAborted`` (a heso error too) when it may not run."""
        try:
            admission = _gate_tool(ctx)
        except Exception as exc:
            abort = _fail_closed(exc)
            with suppress(Exception):
                _call.set(_Call(ctx.tool_name, ctx.tool_input, abort, None))
            raise abort from abort.__cause__
        admission.__enter__()
        _call.set(_Call(ctx.tool_name, ctx.tool_input, None, admission))

    def after_tool_call(self, ctx: ToolCallHookContext) -> str | None:
        """For a call heso refused: the refusal text (``message``) or raise it (``raise``)."""
        call = _call.get()
        if call is None or not _same_call(call, ctx):
            return None
        _call.set(None)
        if call.admission is not None:
            try:
                call.admission.__exit__(None, None, None)  # records `completed` of a re-entry
            except ValueError:  # entered in another context; nothing of ours to restore
                pass
        if call.abort is None:
            return None
        if self.mode == "raise":
            raise call.abort
        return refusal_text(call.abort)

    def before_llm_call(self, ctx: LLMCallHookContext) -> None:
        """Gate an LLM call; a refusal raises out of the run (CrewAI re-raises it)."""
        try:
            model = _model_name(getattr(ctx, "llm", None))
            fields = {"messages": _json_safe(list(getattr(ctx, "messages", None) or []))}
            gate(Verb.LLM_CALL, model, {"model": model, **fields})
        except Exception as exc:
            abort = _fail_closed(exc)
            raise abort from abort.__cause__

    def _pairs(self) -> list[tuple[InterceptionPoint, Any]]:
        pairs: list[tuple[InterceptionPoint, Any]] = [
            (InterceptionPoint.PRE_TOOL_CALL, self.before_tool_call),
            (InterceptionPoint.POST_TOOL_CALL, self.after_tool_call),
        ]
        if self.llm_calls:
            pairs.append((InterceptionPoint.PRE_MODEL_CALL, self.before_llm_call))
        return pairs

    def install(self) -> HesoHooks:
        """Register the hooks globally (every crew in the process); a second call is a no-op.

        Install before ``kickoff()``: CrewAI copies the global LLM hooks when an agent starts.
        Hooks registered after these run later and may still rewrite a tool's input.
        """
        if not self._installed:
            register_before_tool_call_hook(self.before_tool_call)
            register_after_tool_call_hook(self.after_tool_call)
            if self.llm_calls:
                register_before_llm_call_hook(self.before_llm_call)
            self._installed = True
        return self

    def uninstall(self) -> None:
        """Remove the global hooks :meth:`install` registered."""
        if self._installed:
            unregister_before_tool_call_hook(self.before_tool_call)
            unregister_after_tool_call_hook(self.after_tool_call)
            if self.llm_calls:
                unregister_before_llm_call_hook(self.before_llm_call)
            self._installed = False

    @contextmanager
    def scoped(self) -> Iterator[HesoHooks]:
        """Register the hooks for this context only (thread/task-local, CrewAI's execution
        scope); they run after the global hooks and any outer scoped ones."""
        scope = {point: get_scoped_hooks(point) for point in InterceptionPoint}
        for point, hook in self._pairs():
            scope[point].append(hook)
        with scoped_hooks(scope):
            yield self


def _same_call(call: _Call, ctx: ToolCallHookContext) -> bool:
    # CrewAI hands the before- and after-hook of one call the same input dict; some versions
    # build a fresh ``{}`` for a call without arguments.
    tool_input = getattr(ctx, "tool_input", None)
    if call.tool_input is tool_input:
        return True
    return call.tool_name == getattr(ctx, "tool_name", None) and call.tool_input == tool_input


def _model_name(llm: Any) -> str:
    model = getattr(llm, "model", None) if llm is not None else None
    if isinstance(model, str) and model:
        return model
    if isinstance(llm, str) and llm:
        return llm
    return type(llm).__name__ if llm is not None else "unknown"


def _json_safe(value: Any) -> Any:
    """Messages as JSON values; an object without a JSON form becomes a marker string."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    try:
        return to_json_value(value, path="messages")
    except CanonicalizationError:
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            try:
                return _json_safe(dump(mode="json"))
            except Exception:
                pass
        return f"<unrepresentable {type(value).__qualname__}>"


# --- module-level lifecycle ---------------------------------------------------------------

_installed: HesoHooks | None = None


def install(mode: Mode = "raise", *, llm_calls: bool = False) -> HesoHooks:
    """Register heso's hooks globally for every crew; replaces an earlier :func:`install`."""
    global _installed
    hooks = HesoHooks(mode, llm_calls=llm_calls)
    uninstall()
    _installed = hooks.install()
    return hooks


def uninstall() -> bool:
    """Remove the hooks :func:`install` registered; ``False`` when none were installed."""
    global _installed
    old, _installed = _installed, None
    if old is None:
        return False
    old.uninstall()
    return True


@contextmanager
def scoped(mode: Mode = "raise", *, llm_calls: bool = False) -> Iterator[HesoHooks]:
    """``with heso_crewai.scoped(): crew.kickoff()`` — heso's hooks for this context only."""
    with HesoHooks(mode, llm_calls=llm_calls).scoped() as hooks:
        yield hooks
