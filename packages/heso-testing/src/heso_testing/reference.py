"""Reference receipts for the capture-identity contract, shared by the SDK tests and the adapter
conformance suite.

Every surface (``@heso.tool``, ``heso.wrap``, ``heso.process``, each framework adapter) must
produce byte-identical receipt *content* for the same logical call (verb, tool name, fields,
workflow, account, optional catalog id) under a pinned clock. :func:`reference_content` mints
that content directly through :func:`heso.capture.capture`; :func:`assert_same_content`
compares a surface's receipt with it byte for byte (RFC 8785) and explains any difference.

Use them with heso initialised with a pinned clock (``heso.init(clock_override=...)``, or
:func:`heso_testing.project.PINNED_CLOCK`)::

    call = LogicalCall("tool_call", "send_email", {"to": "a@example.com", "body": "hi"})
    send_email(to="a@example.com", body="hi")  # the surface under test
    assert_same_content(project.receipts()[-1], reference_content(call))
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LogicalCall",
    "assert_same_content",
    "content_bytes",
    "content_of",
    "reference_content",
]


@dataclass(frozen=True)
class LogicalCall:
    """What an agent did, independent of the surface that captured it."""

    verb: str
    tool_name: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    workflow: str | None = None
    """``None``: the enclosing ``heso.step`` or the configured workflow."""
    account: str | None = None
    domain: str | None = None
    action_id: str | None = None
    redact: Any = None


def reference_content(call: LogicalCall) -> dict[str, Any]:
    """The receipt content heso's one capture path mints for ``call`` (it is also chained)."""
    from heso.capture import capture

    outcome = capture(
        call.verb,
        call.tool_name,
        call.fields,
        workflow=call.workflow,
        account=call.account,
        domain=call.domain,
        action_id=call.action_id,
        redact_fields=call.redact,
    )
    assert outcome.receipt is not None
    return dict(outcome.receipt["content"])


def content_of(receipt_or_content: Mapping[str, Any]) -> Mapping[str, Any]:
    """The content of a receipt (a content mapping is returned as is)."""
    inner = receipt_or_content.get("content")
    return inner if isinstance(inner, Mapping) else receipt_or_content


def content_bytes(receipt_or_content: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of a receipt's content (``action_hash`` included)."""
    from heso.canonical import canonical_bytes

    return canonical_bytes(dict(content_of(receipt_or_content)))


def assert_same_content(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Fail with a line diff unless both receipts' contents are byte-identical."""
    a, b = content_bytes(actual), content_bytes(expected)
    if a == b:
        return

    def pretty(data: bytes) -> list[str]:
        return json.dumps(json.loads(data), indent=2, sort_keys=True).splitlines()

    diff = "\n".join(
        difflib.unified_diff(pretty(b), pretty(a), "reference", "surface", lineterm="")
    )
    raise AssertionError(f"receipt content differs from the reference capture:\n{diff}")
