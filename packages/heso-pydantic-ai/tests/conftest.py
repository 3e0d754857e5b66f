"""A heso project for the adapter's own tests: the conformance policy (plus the test module's
``EXTRA_POLICY``), a registered approver with a key of their own, and heso initialised at a
pinned clock."""

from __future__ import annotations

import asyncio
import inspect
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from heso_testing.conformance import (
    APPROVER,
    APPROVER_GROUP,
    CONFORMANCE_POLICY,
    ConformanceContext,
)
from heso_testing.project import PINNED_CLOCK, make_project


@pytest.fixture
def heso_ctx(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ConformanceContext]:
    """A project whose ``oncall`` approver signs with their own key (``heso_ctx.approve``)."""
    import heso
    from heso.approvals.identity import new_approver

    for name in list(os.environ):
        if name.startswith("HESO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approver-device"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "pydantic-ai adapter tests")
    monkeypatch.setenv("HESO_CLOCK", PINNED_CLOCK)
    _, public = new_approver(APPROVER)
    approvers = f'\n[approvers.{APPROVER_GROUP}]\nmembers = {{ {APPROVER} = "{public}" }}\n'
    extra = getattr(request.module, "EXTRA_POLICY", "")
    project = make_project(tmp_path / "project", CONFORMANCE_POLICY + extra + approvers)
    ctx = ConformanceContext(project, monkeypatch)
    ctx.init()
    try:
        yield ctx
    finally:
        heso.shutdown()


@pytest.fixture(autouse=True)
def _close_run_sync_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """``agent.run_sync()`` sets a fresh event loop on the thread and keeps it for reuse; close
    it after each sync test so the garbage collector does not find it open (ResourceWarning)."""
    yield
    if inspect.iscoroutinefunction(request.function):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)
