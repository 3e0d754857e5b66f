"""Choosing the store: ``[heso] store`` / ``HESO_STORE``, one factory for every caller, and no
store password in any error, log line or ``--json`` output."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import pytest

import heso
from heso import config as _config
from heso import stores
from heso.approvals.file_store import FileApprovalStore
from heso.capture import capture
from heso.cli import main
from heso.ledger import FileLedger

SECRET = "hunter2-Zq9"
URLS = [
    f"postgresql://heso:{SECRET}@db.internal:5432/heso",
    f"postgres://heso:{SECRET}@db.internal/heso?sslmode=require",
    f"postgresql://heso@db.internal/heso?password={SECRET}",
    f"postgresql://heso:p/{SECRET}?@db.internal/heso",
]
DOWN = [  # loopback addresses where no database listens: nothing leaves the machine
    f"postgresql://heso:{SECRET}@127.0.0.1:1/heso",
    f"postgres://heso:{SECRET}@127.0.0.1:1/heso?sslmode=disable",
    f"postgresql://heso@127.0.0.1:1/heso?password={SECRET}",
    f"postgresql://heso:p/{SECRET}?@127.0.0.1:1/heso",
]


def _policy(store: str | None) -> str:
    line = f"store = {json.dumps(store)}\n" if store is not None else ""
    return f'[policy]\ndefault = "allow"\n\n[heso]\n{line}'


def test_the_file_store_in_heso_local_data_is_the_default(heso_project):
    config = heso_project.init()
    rt = _config.current()
    assert config.store is not None and config.store.kind == stores.FILE
    assert config.store.path == config.data_dir
    assert isinstance(rt.ledger, FileLedger) and rt.ledger.data_dir == config.data_dir
    assert isinstance(rt.approvals, FileApprovalStore)
    assert capture("tool_call", "t", {}).allowed
    assert len(heso_project.receipts()) == 1


def test_store_file_may_be_spelled_out(heso_project):
    heso_project.write_policy(_policy("file"))
    config = heso_project.init()
    assert config.store_spec == stores.StoreSpec(
        stores.FILE, config.data_dir, origin=f"[heso] store in {config.policy_path}"
    )


@pytest.mark.parametrize("url", DOWN[:2])
def test_an_unreachable_database_fails_init_clearly(heso_project, url):
    heso_project.write_policy(_policy(url))
    with pytest.raises(heso.HesoConfigError, match=r"cannot .* PostgreSQL store") as err:
        heso_project.init()
    assert "database is running" in err.value.diagnostics()
    assert SECRET not in err.value.diagnostics()
    with pytest.raises(heso.HesoConfigError):
        capture("tool_call", "t", {})  # nothing was initialised: the gate fails closed


def test_the_environment_wins_over_heso_toml(heso_project, monkeypatch):
    heso_project.write_policy(_policy(DOWN[0]))
    monkeypatch.setenv("HESO_STORE", "file")
    assert heso_project.init().store_spec.kind == stores.FILE
    heso.shutdown()
    heso_project.write_policy(_policy("file"))
    monkeypatch.setenv("HESO_STORE", DOWN[1])
    with pytest.raises(heso.HesoConfigError, match="set by HESO_STORE"):
        heso_project.init()


def test_a_bad_store_names_the_file_and_line(heso_project):
    heso_project.write_policy(_policy(f"mysql://root:{SECRET}@db/heso"))
    with pytest.raises(heso.HesoConfigError, match='must be "file" or a postgresql') as err:
        heso_project.init()
    assert err.value.path is not None and err.value.path.endswith("heso.toml")
    assert err.value.line == 5 and err.value.key == "heso.store"
    assert SECRET not in str(err.value) and "mysql://root:***@db/heso" in str(err.value)
    heso_project.write_policy('[policy]\ndefault = "allow"\n[heso]\nstore = 5\n')
    with pytest.raises(heso.HesoConfigError, match=r"\[heso\]\.store must be a str") as err:
        heso_project.init()
    assert err.value.line == 4


def test_a_bad_store_in_the_environment_says_so(heso_project, monkeypatch):
    monkeypatch.setenv("HESO_STORE", f"host=db password={SECRET}")
    with pytest.raises(heso.HesoConfigError, match="set by HESO_STORE") as err:
        heso_project.init()
    assert SECRET not in err.value.diagnostics() and "password=***" in str(err.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (URLS[0], "postgresql://heso:***@db.internal:5432/heso"),
        (URLS[1], "postgres://heso:***@db.internal/heso?sslmode=require"),
        (URLS[2], "postgresql://heso@db.internal/heso?password=***"),
        (URLS[3], "postgresql://heso:***@db.internal/heso"),
        (f"postgresql://u:a@b@{SECRET}@h/db", "postgresql://u:***@h/db"),
        (f"host=db sslpassword='{SECRET} x' user=u", "host=db sslpassword=*** user=u"),
        ("postgresql://heso@db/heso", "postgresql://heso@db/heso"),
        ("file", "file"),
    ],
)
def test_redact_url_hides_every_password(text, shown):
    assert stores.redact_url(text) == shown
    assert SECRET not in stores.redact_url(text)


@pytest.mark.parametrize("url", DOWN)
def test_a_store_password_never_reaches_errors_logs_or_json(
    heso_project, monkeypatch, capsys, caplog, url
):
    monkeypatch.setenv("HESO_STORE", url)
    spec = stores.parse_store(url, "HESO_STORE", heso_project.root)
    assert SECRET not in str(spec) and SECRET not in repr(spec)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(heso.HesoConfigError) as err:
        heso_project.init()
    assert SECRET not in str(err.value) and SECRET not in err.value.diagnostics()
    at = ["--project", str(heso_project.root)]
    verbs = [
        ["verify", "--chain", *at],
        ["verify", "abcdef", *at],
        ["show", "abcdef", *at],
        ["log", *at],
        ["approvals", "list", *at],
    ]
    for argv in verbs:
        for json_flag in ([], ["--json"]):
            code = main([*argv, *json_flag])
            out, errs = capsys.readouterr()
            assert code == 2, (argv, out, errs)
            assert "PostgreSQL store" in out + errs
            assert SECRET not in out + errs, argv
            if json_flag:
                assert json.loads(out)["error"] == "HesoConfigError"
    assert SECRET not in caplog.text


def test_the_console_opens_its_stores_through_the_factory(heso_project, monkeypatch):
    from heso.console.data import ProjectView

    heso_project.init()
    capture("tool_call", "t", {})
    heso.shutdown()
    view = ProjectView(heso_project.root)
    assert [r["seq"] for r in view.receipts({})["rows"]] == [0]
    monkeypatch.setenv("HESO_STORE", DOWN[0])
    with pytest.raises(heso.HesoConfigError, match="database is running") as err:
        ProjectView(heso_project.root)
    assert SECRET not in str(err.value)


def test_a_failed_seal_at_exit_is_logged_not_a_traceback(heso_project):
    """The data directory vanishes while heso runs: the exit seal cannot be written, and says
    so in one line instead of a traceback."""
    script = textwrap.dedent(
        f"""
        import shutil
        import heso
        from heso.capture import capture

        config = heso.init(project_root={str(heso_project.root)!r})
        capture("tool_call", "first", {{}})
        capture("tool_call", "second", {{}})  # appended after the first seal
        shutil.rmtree(config.data_dir)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "heso could not seal the audit chain at exit" in proc.stderr
