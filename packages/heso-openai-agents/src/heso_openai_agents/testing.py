"""An offline scripted model for testing heso-gated agents without a provider.

``ScriptedModel([[("lookup_order", {"order_id": "A-1"})], "done"])`` answers its first request
with that tool call and its second with the text ``done``; every request's input is kept in
:attr:`ScriptedModel.requests`, so a test can read what the model was told a tool returned.
Streaming (``Runner.run_streamed``) works too.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents import Usage
from agents.items import ModelResponse
from agents.models.interface import Model
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

ToolCall = tuple[str, dict[str, Any]]
Turn = str | Sequence[ToolCall]
"""A final text, or the tool calls ``(name, arguments)`` of one model response."""

_ids = itertools.count(1)


class ScriptedModel(Model):
    """A ``Model`` that plays ``turns`` in order; after the script it repeats the last turn
    if it is a text (so a resumed run can finish) and fails otherwise."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = list(turns)
        self.requests: list[list[Any]] = []
        """The input items of every request, in order."""

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        return ModelResponse(output=self._next(input), usage=Usage(), response_id=None)

    async def stream_response(  # type: ignore[override]
        self,
        system_instructions: str | None,
        input: str | list[Any],
        *args: Any,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        response = Response(
            id=f"resp_{next(_ids)}",
            created_at=time.time(),
            model="scripted",
            object="response",
            output=self._next(input),
            parallel_tool_calls=True,
            tool_choice="auto",
            tools=[],
        )
        yield ResponseCompletedEvent(
            type="response.completed", response=response, sequence_number=0
        )

    def tool_outputs(self) -> list[str]:
        """What the model was told each tool call returned, as of its latest request."""
        latest = self.requests[-1] if self.requests else []
        return [
            str(item.get("output"))
            for item in latest
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]

    def _next(self, input: str | list[Any]) -> list[Any]:
        self.requests.append([input] if isinstance(input, str) else list(input))
        index = len(self.requests) - 1
        if index >= len(self.turns):
            if self.turns and isinstance(self.turns[-1], str):
                index = len(self.turns) - 1
            else:
                raise AssertionError(f"ScriptedModel has no turn {index + 1}")
        turn = self.turns[index]
        if isinstance(turn, str):
            return [_message(turn)]
        return [_tool_call(name, arguments) for name, arguments in turn]


def _tool_call(name: str, arguments: dict[str, Any]) -> ResponseFunctionToolCall:
    n = next(_ids)
    return ResponseFunctionToolCall(
        type="function_call",
        id=f"fc_{n}",
        call_id=f"call_{n}",
        name=name,
        arguments=json.dumps(arguments),
        status="completed",
    )


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        type="message",
        id=f"msg_{next(_ids)}",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


__all__ = ["ScriptedModel", "ToolCall", "Turn"]
