"""``HesoGate``: gate every tool call Claude Code makes, before the tool runs.

Two seams of the Claude Agent SDK, one capture per tool call:

* a ``PreToolUse`` hook (:meth:`HesoGate.hooks`, :meth:`HesoGate.apply`) with
  ``on_failure="block"``: it sees every tool call, whatever the permission mode, and a hook
  that crashes blocks the call instead of letting it run (the SDK's default fails open);
* a ``can_use_tool`` callback (:meth:`HesoGate.can_use_tool`), consulted by Claude Code for tool
  calls its permission rules have not already allowed. When the hook of the same gate already
  decided a call, the callback answers from that decision without capturing it again.

Refusals: ``mode="raise"`` (default) denies the call, stops the run and lets
``heso.BlockedError`` / ``heso.SuspendedError`` out of :func:`query` (or
:meth:`HesoGate.raise_for_refusal`); ``mode="message"`` denies the call with
``heso: blocked by rule <id>: <display text>`` as the tool's result and the model carries on
(:func:`heso.adapters.refusal_text`, the same text on every framework).

Approvals: Claude Code has no pause, so a ``require_approval`` call is refused and parked; the
same call made again (the model calling the tool once more, in any session) re-enters it
(:func:`heso.adapters.admit`): refused again while undecided, run exactly once after
heso's approvers approved. The gate's ``PostToolUse`` / ``PostToolUseFailure`` hooks (wired by
:meth:`HesoGate.apply` and :meth:`HesoGate.hooks`) then record ``completed`` once the tool ran;
with ``can_use_tool`` alone the lifecycle of a re-entered call ends at ``fired``.

Arguments: the hook sees the tool input after Claude Code's own coercion (``"3"`` for an
integer arrives as ``3``). For a tool of an in-process SDK MCP server the gate knows (the
options passed to :meth:`HesoGate.apply` or :meth:`HesoGate.query`), a parameter the model
left out gets its input schema's ``default``; the gate decides on that input and hands it to
the tool (``updatedInput`` from the hook, ``updated_input`` from ``can_use_tool``), so the
handler receives exactly what was gated. Built-in tools and external MCP servers keep their
input as Claude Code sends it (gate such servers with ``heso-mcp``'s server gate to apply
their defaults).

Tool names: Claude Code names a tool of an MCP server ``mcp__<server>__<tool>`` (in-process SDK
servers from ``create_sdk_mcp_server`` included); the receipt names it ``<tool>``, as every other
heso surface does, so one policy covers the same tool on every framework. Built-in tools
(``Bash``, ``Write``, ...) keep their names. ``tool_names="full"`` keeps the CLI's name;
``server_field="mcp_server"`` records the server in that field (both change the receipt).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, Literal

from claude_agent_sdk import (
    ClaudeAgentOptions,
    HookContext,
    HookInput,
    HookJSONOutput,
    HookMatcher,
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)
from claude_agent_sdk import query as sdk_query

from heso import BridgeError, HesoError
from heso.adapters import Admission, Mode, admit, check_mode, refusal_text

ToolNames = Literal["short", "full"]

_MCP_PREFIX = "mcp__"
_REMEMBERED = 1024
"""Decisions (for ``can_use_tool`` to reuse) and admissions (for ``PostToolUse`` to complete)
kept per gate, by ``tool_use_id``."""


def split_tool_name(name: str, servers: Iterable[str] = ()) -> tuple[str | None, str]:
    """``(server, tool)`` of a Claude Code tool name: ``mcp__files__read_file`` is
    ``("files", "read_file")``; a built-in tool is ``(None, name)``.

    ``servers`` are the known MCP server names; the longest that prefixes the name wins (a
    server name may contain ``__``). Otherwise the server ends at the first ``__``.
    """
    if not name.startswith(_MCP_PREFIX):
        return None, name
    rest = name[len(_MCP_PREFIX) :]
    for server in sorted(servers, key=len, reverse=True):
        head = f"{server}__"
        if rest.startswith(head) and len(rest) > len(head):
            return server, rest[len(head) :]
    server, sep, tool = rest.partition("__")
    if sep and server and tool:
        return server, tool
    return None, name


class HesoGate:
    """Gate Claude Agent SDK tool calls through heso's capture path.

    ``mode``: ``"raise"`` (default) or ``"message"`` (see the module docs). ``matcher``: the
    ``HookMatcher`` pattern of tool names to gate (``None``: every tool). ``tool_names`` and
    ``server_field``: how a CLI tool name becomes the receipt's (see :func:`split_tool_name`).

    In raise mode one gate belongs to one run at a time: its :attr:`refusals` are that run's.
    """

    def __init__(
        self,
        *,
        mode: Mode = "raise",
        matcher: str | None = None,
        tool_names: ToolNames = "short",
        server_field: str | None = None,
        servers: Iterable[str] = (),
    ) -> None:
        if tool_names not in ("short", "full"):
            raise ValueError(f"tool_names must be 'short' or 'full', not {tool_names!r}")
        self.mode: Mode = check_mode(mode)
        self.matcher = matcher
        self.tool_names: ToolNames = tool_names
        self.server_field = server_field
        self.servers: set[str] = set(servers)
        """MCP server names known to the gate (:meth:`apply` adds the options' servers)."""
        self.refusals: list[HesoError] = []
        """Refusals and gate failures of raise mode not yet raised (:meth:`raise_for_refusal`)."""
        self._decided: OrderedDict[str, tuple[str, Any, HesoError | None]] = OrderedDict()
        self._admitted: OrderedDict[str, Admission] = OrderedDict()
        self._sdk_servers: dict[str, Any] = {}
        self._defaults: dict[tuple[str, str], Mapping[str, Any]] = {}

    # -- wiring ------------------------------------------------------------------------------

    def hook_matcher(self) -> HookMatcher:
        """The ``PreToolUse`` matcher, with ``on_failure="block"``: a crash blocks the call."""
        return HookMatcher(matcher=self.matcher, hooks=[self.pre_tool_use], on_failure="block")

    def post_hook_matchers(self) -> dict[str, HookMatcher]:
        """The ``PostToolUse`` and ``PostToolUseFailure`` matchers: they record ``completed``
        for a re-entered call once the tool ran."""
        return {
            "PostToolUse": HookMatcher(matcher=self.matcher, hooks=[self.post_tool_use]),
            "PostToolUseFailure": HookMatcher(
                matcher=self.matcher, hooks=[self.post_tool_use_failure]
            ),
        }

    def hooks(self) -> dict[str, list[HookMatcher]]:
        """``ClaudeAgentOptions(hooks=gate.hooks())``."""
        post = self.post_hook_matchers()
        return {"PreToolUse": [self.hook_matcher()], **{k: [m] for k, m in post.items()}}

    def apply(self, options: ClaudeAgentOptions | None = None) -> ClaudeAgentOptions:
        """A copy of ``options`` with the gate's ``PreToolUse`` hook ahead of the options' own
        hooks; the options' MCP server names are learnt for :func:`split_tool_name`.

        The hook only refuses: a call heso allows still needs Claude Code's permission
        (``allowed_tools``, ``permission_mode`` or a ``can_use_tool`` callback, which may be
        :meth:`can_use_tool`).
        """
        options = options if options is not None else ClaudeAgentOptions()
        self._learn(options)
        hooks: dict[Any, list[HookMatcher]] = dict(options.hooks or {})
        if self._hooked(options):
            raise ValueError("these options already carry this HesoGate's PreToolUse hook")
        hooks["PreToolUse"] = [self.hook_matcher(), *hooks.get("PreToolUse", ())]
        for event, matcher in self.post_hook_matchers().items():
            hooks[event] = [matcher, *hooks.get(event, ())]  # type: ignore[index]
        return dataclasses.replace(options, hooks=hooks)

    # -- the seams ---------------------------------------------------------------------------

    async def pre_tool_use(
        self, input_data: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        """The ``PreToolUse`` hook callback: ``{}`` (no opinion) when heso admits the call,
        else a deny carrying the refusal text (and, in raise mode, a stop of the run)."""
        data: Mapping[str, Any] = input_data  # type: ignore[assignment]
        name = str(data.get("tool_name"))
        server = data.get("mcp_server")
        known = (server["name"],) if isinstance(server, Mapping) and "name" in server else ()
        tool_use_id = tool_use_id or data.get("tool_use_id")
        tool_input = data.get("tool_input")
        refusal, sent = await self._decide(name, tool_input, known, tool_use_id)
        if tool_use_id:
            self._remember(tool_use_id, (name, sent, refusal))
        if refusal is None:
            if sent == tool_input:
                return {}
            # The tool receives the input as gated (its schema's defaults filled in).
            return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "updatedInput": sent}}
        text = refusal_text(refusal)
        out: HookJSONOutput = {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": text,
            }
        }
        if self.mode == "raise":
            out.update({"continue_": False, "stopReason": text})  # type: ignore[typeddict-item]
        return out

    async def can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        """The ``can_use_tool`` callback: allow what heso admits, deny the rest with the
        refusal text (raise mode also interrupts the run). A call this gate's hook already
        decided (same tool, same input) is answered from that decision, without a second
        receipt."""
        decided = self._decided.pop(context.tool_use_id or "", None)
        if decided is not None and decided[:2] == (tool_name, tool_input):
            refusal, sent = decided[2], tool_input
        else:
            refusal, sent = await self._decide(tool_name, tool_input, (), context.tool_use_id)
        if refusal is None:
            if sent == tool_input:
                return PermissionResultAllow()
            return PermissionResultAllow(updated_input=sent)
        return PermissionResultDeny(message=refusal_text(refusal), interrupt=self.mode == "raise")

    async def post_tool_use(
        self, input_data: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        """The ``PostToolUse`` hook callback: the tool ran; a re-entered call records
        ``completed``. Never changes the tool's result (``{}``)."""
        self._complete(input_data, tool_use_id, ok=True)
        return {}

    async def post_tool_use_failure(
        self, input_data: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        """The ``PostToolUseFailure`` hook callback: the tool failed; a re-entered call records
        ``completed`` with ``error="ToolError"`` (Claude Code reports no exception type)."""
        self._complete(input_data, tool_use_id, ok=False)
        return {}

    # -- raise mode --------------------------------------------------------------------------

    def raise_for_refusal(self) -> None:
        """Raise (and forget) the first refusal or gate failure of this run, if any."""
        if self.refusals:
            first = self.refusals[0]
            self.refusals.clear()
            raise first

    async def query(
        self,
        *,
        prompt: str | AsyncIterable[dict[str, Any]],
        options: ClaudeAgentOptions,
        **kwargs: Any,
    ) -> AsyncIterator[Message]:
        """``claude_agent_sdk.query`` with ``options`` wired to this gate (:meth:`apply`
        and/or ``can_use_tool=gate.can_use_tool``); in raise mode the first refusal is raised
        as soon as it happened and the run is stopped."""
        if not self._wired(options):
            raise ValueError(
                "options are not gated by this HesoGate: pass gate.apply(options) or set "
                "can_use_tool=gate.can_use_tool"
            )
        self._learn(options)
        self.refusals.clear()
        run = sdk_query(prompt=prompt, options=options, **kwargs)
        async with contextlib.aclosing(run):
            try:
                async for message in run:
                    if self.refusals:
                        break
                    yield message
                # The refused run is stopping (continue=False / interrupt): let it end, so the
                # SDK closes its streams (closing its generator early leaks them).
                async for _ in run:
                    pass
            except HesoError:
                raise
            except Exception as exc:
                # can_use_tool's interrupt ends the run with the SDK's own error.
                if not self.refusals:
                    raise
                refusal = self.refusals[0]
                self.refusals.clear()
                raise refusal from exc
        self.raise_for_refusal()

    def _wired(self, options: ClaudeAgentOptions) -> bool:
        return options.can_use_tool == self.can_use_tool or self._hooked(options)

    def _hooked(self, options: ClaudeAgentOptions) -> bool:
        matchers = (options.hooks or {}).get("PreToolUse", ())
        return any(self.pre_tool_use in getattr(m, "hooks", ()) for m in matchers)

    def _complete(self, input_data: HookInput, tool_use_id: str | None, *, ok: bool) -> None:
        data: Mapping[str, Any] = input_data  # type: ignore[assignment]
        admission = self._admitted.pop(tool_use_id or data.get("tool_use_id") or "", None)
        if admission is not None:
            admission.complete(ok, error=None if ok else "ToolError")

    # -- internals ---------------------------------------------------------------------------

    def _learn(self, options: ClaudeAgentOptions) -> None:
        """Learn the options' MCP server names, and the in-process SDK servers whose tools'
        input schemas give the defaults of a call."""
        if not isinstance(options.mcp_servers, Mapping):
            return
        self.servers.update(options.mcp_servers)
        for name, config in options.mcp_servers.items():
            if isinstance(config, Mapping) and config.get("type") == "sdk":
                instance = config.get("instance")
                if instance is not None and self._sdk_servers.get(name) is not instance:
                    self._sdk_servers[name] = instance
                    self._defaults = {k: v for k, v in self._defaults.items() if k[0] != name}

    async def _decide(
        self, name: str, tool_input: Any, servers: Iterable[str], tool_use_id: str | None
    ) -> tuple[HesoError | None, Any]:
        """``(None, input)`` when the call may run with ``input`` (the tool input with its
        schema's defaults; the admission kept by ``tool_use_id`` for ``PostToolUse``); else
        ``(refusal, tool_input)``, the refusal or the gate's failure (fail closed: any
        exception refuses)."""
        try:
            sent = await self._with_defaults(name, tool_input, servers)
            tool, fields = self._action(name, sent, servers)
            admission = admit("tool_call", tool, fields)
        except HesoError as exc:
            refusal: HesoError = exc
        except Exception as exc:
            refusal = BridgeError(f"the heso gate failed for {name!r}: {type(exc).__name__}: {exc}")
            refusal.__cause__ = exc
        else:
            if tool_use_id:
                self._keep(self._admitted, tool_use_id, admission)
            return None, sent
        if self.mode == "raise":
            self.refusals.append(refusal)
        return refusal, tool_input

    async def _with_defaults(self, name: str, tool_input: Any, servers: Iterable[str]) -> Any:
        """``tool_input`` with the ``default`` of each top-level parameter it leaves out, for
        a tool of a known SDK MCP server; otherwise as it is."""
        server, tool = split_tool_name(name, [*servers, *self.servers])
        if server is None or server not in self._sdk_servers or not isinstance(tool_input, dict):
            return tool_input
        defaults = await self._defaults_of(server, tool)
        missing = {k: copy.deepcopy(v) for k, v in defaults.items() if k not in tool_input}
        return {**tool_input, **missing} if missing else tool_input

    async def _defaults_of(self, server: str, tool: str) -> Mapping[str, Any]:
        key = (server, tool)
        if key not in self._defaults:
            for listed, schema in (await _list_schemas(self._sdk_servers[server])).items():
                properties = schema.get("properties")
                self._defaults[(server, listed)] = {
                    name: prop["default"]
                    for name, prop in (
                        properties if isinstance(properties, Mapping) else {}
                    ).items()
                    if isinstance(prop, Mapping) and "default" in prop
                }
        return self._defaults.get(key, {})

    def _action(
        self, name: str, tool_input: Any, servers: Iterable[str]
    ) -> tuple[str, dict[str, Any]]:
        """The receipt's tool name and fields for a CLI tool call."""
        server, tool = split_tool_name(name, [*servers, *self.servers])
        fields = dict(tool_input) if isinstance(tool_input, Mapping) else {"input": tool_input}
        if self.server_field is not None and server is not None:
            if self.server_field in fields:
                raise ValueError(
                    f"server_field {self.server_field!r} collides with an argument of {name!r}"
                )
            fields[self.server_field] = server
        return (tool if self.tool_names == "short" else name), fields

    def _remember(self, tool_use_id: str, decided: tuple[str, Any, HesoError | None]) -> None:
        self._keep(self._decided, tool_use_id, decided)

    @staticmethod
    def _keep(kept: OrderedDict[str, Any], tool_use_id: str, value: Any) -> None:
        kept[tool_use_id] = value
        while len(kept) > _REMEMBERED:
            kept.popitem(last=False)

    def __repr__(self) -> str:
        return f"HesoGate(mode={self.mode!r}, matcher={self.matcher!r})"


async def _list_schemas(instance: Any) -> dict[str, Mapping[str, Any]]:
    """The input schema of each tool an in-process MCP server lists (mcp 1.x); none when the
    server cannot be asked."""
    from mcp import types

    handler = getattr(instance, "request_handlers", {}).get(types.ListToolsRequest)
    if handler is None:
        return {}
    result = await handler(types.ListToolsRequest(method="tools/list"))
    listed = getattr(result, "root", result)
    return {tool.name: tool.inputSchema for tool in getattr(listed, "tools", ())}


async def query(
    *,
    prompt: str | AsyncIterable[dict[str, Any]],
    options: ClaudeAgentOptions | None = None,
    mode: Mode = "raise",
    **kwargs: Any,
) -> AsyncIterator[Message]:
    """``claude_agent_sdk.query`` with every tool call gated by a fresh :class:`HesoGate`.

    ``async for message in heso.claude_agent.query(prompt="...", options=options): ...``;
    raises ``heso.BlockedError`` / ``SuspendedError`` in ``mode="raise"`` (the default).
    """
    gate = HesoGate(mode=mode)
    async for message in gate.query(prompt=prompt, options=gate.apply(options), **kwargs):
        yield message


__all__ = ["HesoGate", "Mode", "ToolNames", "query", "split_tool_name"]
