"""``heso.step()``: scoped workflow, account and redaction for the actions inside it.

Steps nest (the inner value wins, unset values fall through, redact lists are unioned) and are
task- and thread-local (``contextvars``), so concurrent agents never see each other's step.
A step is a context manager (``with`` or ``async with``) and a decorator (sync or async).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from heso.redaction import RedactStrategy, merge_redact_specs, normalize_redact_spec

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class StepFrame:
    """The effective step values at one point of the call stack."""

    workflow: str | None = None
    account: str | None = None
    redact: Mapping[str, RedactStrategy] = field(default_factory=dict)
    parent: StepFrame | None = field(default=None, repr=False, compare=False)


_current: ContextVar[StepFrame | None] = ContextVar("heso_step", default=None)


def current_step() -> StepFrame | None:
    """The innermost active step, merged with its parents, or ``None``."""
    return _current.get()


def _check_name(value: str | None, what: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"heso.step({what}=...) must be a non-empty string, not {value!r}")
    return value


class step:
    """Run the enclosed actions under ``workflow``/``account`` and extra redaction.

    ``with heso.step(workflow="billing", redact=["card"]):`` — or ``async with``, or as a
    decorator on a sync or async function (each call enters a fresh step). One ``step``
    object may be entered from several threads or tasks at once.
    """

    __slots__ = ("account", "redact", "workflow")

    def __init__(
        self, *, workflow: str | None = None, account: str | None = None, redact: Any = None
    ) -> None:
        self.workflow = _check_name(workflow, "workflow")
        self.account = _check_name(account, "account")
        self.redact: Mapping[str, RedactStrategy] = normalize_redact_spec(redact)

    def __enter__(self) -> StepFrame:
        parent = _current.get()
        base = parent or StepFrame()
        frame = StepFrame(
            workflow=self.workflow if self.workflow is not None else base.workflow,
            account=self.account if self.account is not None else base.account,
            redact=merge_redact_specs(base.redact, self.redact) if self.redact else base.redact,
            parent=parent,
        )
        _current.set(frame)
        return frame

    def __exit__(self, *exc: object) -> None:
        frame = _current.get()
        _current.set(frame.parent if frame is not None else None)

    async def __aenter__(self) -> StepFrame:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (
            f"heso.step(workflow={self.workflow!r}, account={self.account!r}, "
            f"redact={sorted(self.redact)!r})"
        )
