"""``HesoCallbackHandler``: gate every tool (and optionally model) call of any LangChain
runnable, agent or LangGraph graph it is passed to as a callback.

It is a *sync* handler with ``raise_error = True``: langchain-core swallows a handler's
exception when ``raise_error`` is off, and an async handler's exception on a sync tool path
(even through ``ainvoke``); a sync handler's exception propagates on every path, before the
tool's body runs.

The handler gates the arguments the tool's function will receive: ``on_tool_start`` is called
from inside ``BaseTool.run`` / ``arun`` with the model's raw input, so the handler finds that
tool (the innermost ``run``/``arun`` frame of a tool with the event's name) and binds the input
as the tool will (:func:`heso_langchain._gate.call_fields_of`: validation, coercion, defaults).
The handler runs inline (``run_inline = True``) so the async path is found too. Events that do
not come from a tool's ``run``, and input the tool's validation rejects (the tool then refuses
it and nothing runs), are gated with their raw input.

Callbacks cannot pause a run: a ``require_approval`` tool call is refused, and the same call
made again is re-entered (:func:`heso.adapters.admit`): refused while undecided, run exactly
once after heso's approvers approved, with ``completed`` recorded from ``on_tool_end`` /
``on_tool_error``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import BaseTool

from heso import GateRefusal
from heso.adapters import Admission, admit
from heso_langchain._gate import call_fields_of, check, check_mode, refusal_text, tool_fields

_RUNS = {BaseTool.run.__code__: False, BaseTool.arun.__code__: True}
"""The code of the methods that call ``on_tool_start``: is it the async one."""


class HesoCallbackHandler(BaseCallbackHandler):
    """Gate tool calls as ``tool_call`` (fields = the tool's input) and, with
    ``gate_llm=True``, model calls as ``llm_call`` (fields = ``model``, ``provider`` and
    ``messages`` in OpenAI form, or ``prompts``).

    ``mode="raise"`` (default) lets ``heso.BlockedError`` / ``heso.SuspendedError`` out of the
    run. ``mode="message"`` hands a refused *tool* call's refusal text to the model when a
    LangGraph ``ToolNode`` (or ``create_agent``) runs the tool, so the agent carries on; the
    refusal is raised as a ``ToolInvocationError`` that ``ToolNode``'s default
    ``handle_tool_errors`` turns into the tool's result (elsewhere it propagates). A refused
    model call always raises. Callbacks cannot pause a run (a suspended call runs once approved
    when it is made again); for approvals through LangGraph's interrupt/resume use
    :class:`heso_langchain.HesoMiddleware` or :mod:`heso_langchain.langgraph`.
    """

    raise_error: bool = True
    run_inline: bool = True

    def __init__(
        self,
        *,
        mode: str = "raise",
        gate_tools: bool = True,
        gate_llm: bool = False,
        agent: str | None = None,
    ) -> None:
        self.mode = check_mode(mode)
        self.gate_tools = gate_tools
        self.gate_llm = gate_llm
        self.agent = agent
        self._admitted: dict[UUID, Admission] = {}

    # Tool events are filtered by ``ignore_agent``; everything heso does not gate is skipped.
    @property
    def ignore_agent(self) -> bool:
        return not self.gate_tools

    @property
    def ignore_llm(self) -> bool:
        return not self.gate_llm

    @property
    def ignore_chat_model(self) -> bool:
        return not self.gate_llm

    @property
    def ignore_chain(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = (serialized or {}).get("name") or kwargs.get("name") or "tool"
        running = _running_tool(name)
        bound = None
        if running is not None:
            tool, tool_input, tool_call_id, asynchronous = running
            bound = call_fields_of(tool, tool_input, tool_call_id, asynchronous=asynchronous)
        fields = bound if bound is not None else tool_fields(inputs, input_str)
        try:
            admission = admit("tool_call", name, fields, agent=self.agent)
        except GateRefusal as refusal:
            if self.mode == "raise":
                raise
            raise _tool_refusal(name, fields, refusal)  # noqa: B904 (its __cause__ is the refusal)
        if admission.ticket is not None:
            self._admitted[run_id] = admission

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A re-entered call's tool returned: record ``completed``."""
        admission = self._admitted.pop(run_id, None)
        if admission is not None:
            admission.complete()

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A re-entered call's tool raised: record ``completed`` with the exception's type."""
        admission = self._admitted.pop(run_id, None)
        if admission is not None:
            admission.complete(False, error=type(error).__name__)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        from langchain_core.messages import convert_to_openai_messages

        model, fields = _model_fields(serialized, metadata, kwargs.get("invocation_params"))
        for batch in messages:
            fields["messages"] = convert_to_openai_messages(batch)
            self._gate_llm(model, fields)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        model, fields = _model_fields(serialized, metadata, kwargs.get("invocation_params"))
        for prompt in prompts:
            fields["prompts"] = [prompt]
            self._gate_llm(model, fields)

    def _gate_llm(self, model: str, fields: dict[str, Any]) -> None:
        _, refusal = check("llm_call", model, fields, agent=self.agent)
        if refusal is not None:
            raise refusal

    def __repr__(self) -> str:
        return (
            f"HesoCallbackHandler(mode={self.mode!r}, gate_tools={self.gate_tools}, "
            f"gate_llm={self.gate_llm})"
        )


def _running_tool(name: str) -> tuple[BaseTool, Any, str | None, bool] | None:
    """The tool whose ``run``/``arun`` is calling the handler: ``(tool, tool_input,
    tool_call_id, asynchronous)``; ``None`` when the event does not come from one."""
    frame = sys._getframe(2)
    while frame is not None:
        asynchronous = _RUNS.get(frame.f_code)
        if asynchronous is not None:
            local = frame.f_locals
            tool = local.get("self")
            if isinstance(tool, BaseTool) and tool.name == name:
                return tool, local.get("tool_input"), local.get("tool_call_id"), asynchronous
            return None
        frame = frame.f_back
    return None


def _model_fields(
    serialized: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    params: dict[str, Any] | None,
) -> tuple[str, dict[str, Any]]:
    """The model's name (the ``llm_call`` tool name) and its identifying fields."""
    params = params or {}
    metadata = metadata or {}
    model = (
        params.get("model")
        or params.get("model_name")
        or metadata.get("ls_model_name")
        or _class_name(serialized)
    )
    fields: dict[str, Any] = {"model": str(model)}
    provider = metadata.get("ls_provider") or params.get("_type")
    if provider:
        fields["provider"] = str(provider)
    return str(model), fields


def _class_name(serialized: dict[str, Any] | None) -> str:
    ids: Sequence[str] = (serialized or {}).get("id") or ()
    return str((serialized or {}).get("name") or (ids[-1] if ids else "model"))


_refusal_class: type[Exception] | None = None


def _tool_refusal(name: str, fields: dict[str, Any], refusal: GateRefusal) -> Exception:
    """The refusal as an exception LangGraph's ``ToolNode`` hands to the model as the tool's
    result (its default ``handle_tool_errors`` converts ``ToolInvocationError``)."""
    global _refusal_class
    if _refusal_class is None:
        from langgraph.prebuilt.tool_node import ToolInvocationError

        class HesoToolRefusal(ToolInvocationError):
            """A heso refusal delivered to the model as the tool's error result."""

            def __init__(self, tool_name: str, tool_kwargs: dict[str, Any], message: str):
                Exception.__init__(self, message)
                self.message = message
                self.tool_name = tool_name
                self.tool_kwargs = tool_kwargs
                self.source = None
                self.filtered_errors = None

        _refusal_class = HesoToolRefusal
    exc = _refusal_class(name, fields, refusal_text(refusal))  # type: ignore[call-arg]
    exc.__cause__ = refusal
    return exc


__all__ = ["HesoCallbackHandler"]
