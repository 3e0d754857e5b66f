"""The README's two quickstart commands work as written on a stock machine (issue 16, item 6):
only ``python3``, whose system installation is externally managed (PEP 668).

What is measured, offline: each command is read from README.md (as ``.ci/run`` reads it) and
run verbatim by ``bash`` in a copy of the repository's tracked files, with ``PATH`` reduced to
``/usr/bin:/bin`` so that ``python3`` is the system Python. ``pip`` may not use an index
(``PIP_NO_INDEX``): it installs from a wheelhouse this test assembles from the distributions
already installed (hatchling, heso-core's dependencies, uv), so the command's own ``pip install``
steps really run. ``uv`` runs with ``UV_OFFLINE`` (packages from its cache, as ``.ci/run``'s own
run of the second command left them), and the second command's pytest is narrowed by
``PYTEST_ADDOPTS`` to one small test module instead of the whole suite (which is this run).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as md
import importlib.util
import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"
STOCK_PATH = "/usr/bin:/bin"


def _load_quickstart():
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "tools" / "quickstart.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUICKSTART = _load_quickstart().commands()


# -- a wheelhouse from installed distributions ------------------------------------------------


def sysconfig_path(python: str, name: str) -> str:
    """``sysconfig.get_path(name)`` of another interpreter ('' when it cannot say)."""
    return subprocess.run(
        [python, "-c", f"import sysconfig; print(sysconfig.get_path({name!r}))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def _find(name: str) -> md.Distribution:
    """``name`` as installed here, or in the ``python3``/``python`` on this process's PATH."""
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        pass
    for exe in {shutil.which("python3"), shutil.which("python")} - {None}:
        purelib = sysconfig_path(exe, "purelib")
        found = list(md.distributions(name=name, path=[purelib])) if purelib else []
        if found:
            return found[0]
    raise AssertionError(f"{name} is installed nowhere this test can see")


def _tags(wheel_text: str) -> str:
    parts: list[list[str]] = [[], [], []]
    for line in wheel_text.splitlines():
        if line.startswith("Tag: "):
            for i, part in enumerate(line[5:].strip().split("-")):
                if part not in parts[i]:
                    parts[i].append(part)
    return "-".join(".".join(p) for p in parts)


def repack(dist: md.Distribution, out: Path) -> Path:
    """An installed distribution as a wheel again (its files, its metadata, a new RECORD)."""
    name, version = dist.metadata["Name"], dist.version
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"
    info = f"{stem}.dist-info"
    wheel_text = dist.read_text("WHEEL") or ""
    target = out / f"{stem}-{_tags(wheel_text)}.whl"
    scripts = {
        ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")
    }
    rows = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path in dist.files or []:
            text = str(path)
            if "__pycache__" in text or text.endswith(".pyc"):
                continue
            if text.startswith(".."):  # installed outside site-packages: a data script
                if Path(text).name in scripts:
                    continue  # the installer writes console scripts itself
                arcname = f"{stem}.data/scripts/{Path(text).name}"
            elif text.split("/", 1)[0].endswith(".dist-info"):
                leaf = text.split("/", 1)[1]
                if leaf in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
                    continue
                arcname = f"{info}/{leaf}"
            else:
                arcname = text
            source = Path(dist.locate_file(path))
            data = source.read_bytes()
            entry = zipfile.ZipInfo(arcname)
            entry.external_attr = (source.stat().st_mode & 0xFFFF) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append((arcname, f"sha256={digest.decode()}", str(len(data))))
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows([*rows, (f"{info}/RECORD", "", "")])
        z.writestr(f"{info}/RECORD", record.getvalue())
    return target


def wheelhouse(out: Path, roots: list[str]) -> Path:
    """Wheels of ``roots`` and everything they need on this Python, from what is installed."""
    env = default_environment()
    seen: set[str] = set()
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        key = canonicalize_name(req.name)
        if key in seen or (req.marker is not None and not req.marker.evaluate(env)):
            continue
        seen.add(key)
        dist = _find(req.name)
        repack(dist, out)
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or sub.marker.evaluate({**env, "extra": ""}):
                todo.append(sub)
    return out


# -- the commands ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a stock machine: the system ``python3`` (externally managed), no
    ``heso`` or ``uv`` on PATH, pip limited to the wheelhouse, uv to its cache."""
    stdlib = sysconfig_path(SYSTEM_PYTHON, "stdlib")
    assert (Path(stdlib) / "EXTERNALLY-MANAGED").is_file(), "the system Python is not PEP 668"
    for tool in ("heso", "uv"):
        assert shutil.which(tool, path=STOCK_PATH) is None, tool
    core = ROOT / "packages" / "heso-core" / "pyproject.toml"
    project = tomllib.loads(core.read_text())
    roots = [*project["project"]["dependencies"], *project["build-system"]["requires"], "uv"]
    house = wheelhouse(tmp_path_factory.mktemp("wheelhouse"), roots)
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    return {
        "PATH": STOCK_PATH,
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(house),
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
        "UV_OFFLINE": "1",
        "UV_CACHE_DIR": uv_cache,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
        "HESO_KDF_PROFILE": "interactive",
        "DO_NOT_TRACK": "1",
    }


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's tracked files, as a fresh clone has them."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    target = tmp_path_factory.mktemp("clone") / "heso"
    for name in filter(None, (t.decode() for t in tracked)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def bash(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_the_readme_has_two_commands_that_need_no_system_pip():
    assert len(QUICKSTART) == 2
    for command in QUICKSTART:
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ")


def test_first_command_installs_heso_core_and_runs_the_demo(clone, stock):
    done = bash(QUICKSTART[0], clone, stock)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "minting your first receipts through the engine:" in out
    assert out.count("->  Valid (L0)") == 2
    assert (clone / "heso-demo" / "heso.toml").is_file()
    assert not (clone / "heso.toml").exists()  # the repository root is not a heso project
    # What the demo printed works as printed, in the environment the command activated.
    printed = re.findall(r"(heso (?:verify|show) [0-9a-f]{12} --project heso-demo)", out)
    assert len(printed) == 2, out
    for command in printed:
        again = bash(f". .venv/bin/activate && {command}", clone, stock)
        assert again.returncode == 0, (command, again.stdout, again.stderr)
    leftovers = [
        "heso-demo/heso.toml",
        "heso-demo/heso-local-data/operator.key",
        ".venv/bin/python",
    ]
    ignored = subprocess.run(
        ["git", "check-ignore", *leftovers], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert ignored.stdout.split() == leftovers, "what the quickstart leaves must be git-ignored"


def test_second_command_runs_the_test_suite(clone, stock):
    env = {**stock, "PYTEST_ADDOPTS": "-q tests/test_packaging.py -k license"}
    done = bash(QUICKSTART[1], clone, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"\b9 passed\b", done.stdout), done.stdout[-2000:]
    installed = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-c", "import heso_mcp, heso_testing, heso"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
