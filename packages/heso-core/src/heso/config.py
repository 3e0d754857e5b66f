"""``heso.init()``: resolve the configuration and load the policy, key and stores once.

Each value resolves as: explicit argument > ``HESO_*`` environment variable > the ``[heso]``
table of ``heso.toml`` > default. Calling :func:`init` again replaces the configuration.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from heso import stores
from heso import telemetry as _telemetry
from heso.approvals.store import ApprovalStore
from heso.errors import HesoConfigError
from heso.keys import OPERATOR_KEY_FILE, PublicKey, SigningKey, load_operator_key
from heso.ledger.store import DURABILITY_MODES, LedgerStore
from heso.policy import Policy
from heso.policy.loader import policy_from_source
from heso.project import POLICY_FILE, data_dir, require_root
from heso.receipt import format_timestamp
from heso.redaction import RedactStrategy, RevealStore, normalize_redact_spec
from heso.toml_source import TomlSource, did_you_mean
from heso.transparency.settings import TransparencySettings, parse_settings

log = logging.getLogger("heso")

SETTINGS_TABLE = "heso"
_SETTINGS_KEYS = (
    "workflow",
    "account",
    "binary",
    "blocking",
    "timeout",
    "clock",
    "durability",
    "redact",
    "operator_keys",
    "telemetry",
    "store",
    "transparency",
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Config:
    """The resolved configuration of the running process."""

    project_root: Path
    binary: str = "heso"
    workflow: str = "default"
    account: str = "default"
    clock_override: str | None = None
    timeout: float = 10.0
    blocking: bool = True
    durability: str = "buffered"
    redact: Mapping[str, RedactStrategy] = field(default_factory=dict)
    operator_keys: tuple[str, ...] = ()
    telemetry: _telemetry.Telemetry = _telemetry.OFF
    store: stores.StoreSpec | None = None
    """Where evidence is kept (:func:`heso.stores.setting`); ``None``: the file store in
    :attr:`data_dir`."""
    transparency: TransparencySettings = field(default_factory=TransparencySettings)
    """Checkpoints and witnesses (``[heso.transparency]``)."""

    @property
    def data_dir(self) -> Path:
        """``heso-local-data/`` of this project."""
        return data_dir(self.project_root)

    @property
    def store_spec(self) -> stores.StoreSpec:
        """:attr:`store`, or the file store in :attr:`data_dir`."""
        return self.store or stores.StoreSpec(stores.FILE, self.data_dir)

    @property
    def policy_path(self) -> Path:
        """This project's ``heso.toml``."""
        return self.project_root / POLICY_FILE


@dataclass
class Runtime:
    """What the gate needs, loaded once by :func:`init`."""

    config: Config
    policy: Policy
    key: SigningKey
    identity: str
    ledger: LedgerStore
    approvals: ApprovalStore
    reveal: RevealStore
    source: TomlSource


_runtime: Runtime | None = None
_init_lock = threading.Lock()


def active() -> Runtime | None:
    """The active runtime, ``None`` before :func:`init` (or after :func:`shutdown`)."""
    return _runtime


def current() -> Runtime:
    """The active runtime; ``HesoConfigError`` when :func:`init` was not called."""
    rt = _runtime
    if rt is None:
        raise HesoConfigError(
            "heso is not initialised", hint="call heso.init() once at start-up before any gate"
        )
    return rt


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _parse_bool(text: str, what: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise HesoConfigError(f"{what} must be true or false, not {text!r}")


def _parse_clock(value: datetime | str, what: str) -> str:
    if isinstance(value, datetime):
        try:
            return format_timestamp(value)
        except ValueError as exc:
            raise HesoConfigError(f"{what}: {exc}", hint="pass an aware datetime") from None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return format_timestamp(moment)
    except ValueError:
        raise HesoConfigError(
            f"{what} must be an RFC 3339 timestamp with a zone, not {value!r}",
            hint='e.g. "2026-01-01T00:00:00Z"',
        ) from None


def _parse_timeout(value: Any, what: str) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise HesoConfigError(f"{what} must be a number of seconds, not {value!r}") from None
    if not t > 0:
        raise HesoConfigError(f"{what} must be positive, not {value!r}")
    return t


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HesoConfigError(f"{what} must be a non-empty string, not {value!r}")
    return value


def _settings(source: TomlSource) -> dict[str, Any]:
    """Validate the ``[heso]`` table."""
    table = source.data.get(SETTINGS_TABLE, {})
    if not isinstance(table, dict):
        raise source.error("[heso] must be a table", (SETTINGS_TABLE,))
    for key in table:
        if key not in _SETTINGS_KEYS:
            guess = did_you_mean(key, _SETTINGS_KEYS)
            raise source.error(
                f"unknown setting {key!r} in [heso]",
                (SETTINGS_TABLE, key),
                hint=f"did you mean {guess!r}?" if guess else f"known: {', '.join(_SETTINGS_KEYS)}",
            )
    types: dict[str, tuple[type, ...]] = {
        "workflow": (str,),
        "account": (str,),
        "binary": (str,),
        "blocking": (bool,),
        "timeout": (int, float),
        "clock": (str, datetime),
        "durability": (str,),
        "redact": (list, dict),
        "operator_keys": (list,),
        "telemetry": (dict,),
        "store": (str,),
        "transparency": (dict,),
    }
    for key, value in table.items():
        ok = isinstance(value, types[key]) and not (key == "timeout" and isinstance(value, bool))
        if not ok:
            names = " or ".join(t.__name__ for t in types[key])
            raise source.error(
                f"[heso].{key} must be a {names}, not {type(value).__name__}",
                (SETTINGS_TABLE, key),
                value=True,
            )
    if "durability" in table and table["durability"] not in DURABILITY_MODES:
        raise source.error(
            f"[heso].durability must be one of {', '.join(DURABILITY_MODES)}",
            (SETTINGS_TABLE, "durability"),
            value=True,
        )
    if "store" in table:
        try:
            stores.parse_store(
                table["store"], f"[heso] store in {source.path}", Path(source.path).parent
            )
        except ValueError as exc:
            raise source.error(str(exc), (SETTINGS_TABLE, "store"), value=True) from None
    for i, text in enumerate(table.get("operator_keys", [])):
        try:
            PublicKey.from_str(text)
        except (ValueError, TypeError) as exc:
            raise source.error(
                f"[heso].operator_keys[{i}]: {exc}", (SETTINGS_TABLE, "operator_keys"), value=True
            ) from None
    if "transparency" in table:
        parse_settings(source)
    if "telemetry" in table:
        _telemetry.from_table(source, table["telemetry"], (SETTINGS_TABLE, "telemetry"))
    if "redact" in table:
        try:
            normalize_redact_spec(table["redact"])
        except HesoConfigError as exc:
            raise source.error(
                f"[heso].redact: {exc.message}", (SETTINGS_TABLE, "redact")
            ) from None
    return table


def resolve(
    *,
    project_root: str | os.PathLike[str] | None = None,
    binary: str | None = None,
    workflow: str | None = None,
    account: str | None = None,
    clock_override: datetime | str | None = None,
    timeout: float | None = None,
    blocking: bool | None = None,
    telemetry: Any = None,
) -> tuple[Config, TomlSource]:
    """Resolve a :class:`Config` without loading keys or opening a store."""
    root = require_root(project_root)
    source = TomlSource.read(root / POLICY_FILE)
    table = _settings(source)

    def pick(arg: Any, env: str, key: str, default: Any) -> Any:
        if arg is not None:
            return arg
        from_env = _env(env)
        if from_env is not None:
            return from_env
        return table.get(key, default)

    clock = pick(clock_override, "HESO_CLOCK", "clock", None)
    raw_blocking = pick(blocking, "HESO_BLOCKING", "blocking", True)
    durability = _env("HESO_DURABILITY") or table.get("durability", "buffered")
    if durability not in DURABILITY_MODES:
        raise HesoConfigError(
            f"HESO_DURABILITY must be one of {', '.join(DURABILITY_MODES)}, not {durability!r}"
        )
    config = Config(
        project_root=root,
        binary=_name(pick(binary, "HESO_BIN", "binary", "heso"), "binary / HESO_BIN"),
        workflow=_name(pick(workflow, "HESO_WORKFLOW", "workflow", "default"), "workflow"),
        account=_name(pick(account, "HESO_ACCOUNT", "account", "default"), "account"),
        clock_override=_parse_clock(clock, "clock_override / HESO_CLOCK") if clock else None,
        timeout=_parse_timeout(pick(timeout, "HESO_TIMEOUT", "timeout", 10.0), "timeout"),
        blocking=raw_blocking
        if isinstance(raw_blocking, bool)
        else _parse_bool(str(raw_blocking), "HESO_BLOCKING"),
        durability=durability,
        redact=normalize_redact_spec(table.get("redact")),
        operator_keys=tuple(table.get("operator_keys", ())),
        telemetry=_telemetry_settings(telemetry, table, source),
        store=stores.setting(source, root),
        transparency=parse_settings(source),
    )
    return config, source


def _telemetry_settings(arg: Any, table: Mapping[str, Any], source: TomlSource) -> Any:
    """``telemetry=`` > ``HESO_TELEMETRY`` (on/off over the table's other settings) >
    ``[heso.telemetry]`` > off."""
    if arg is not None:
        return _telemetry.settings(arg)
    conf = _telemetry.OFF
    if "telemetry" in table:
        conf = _telemetry.from_table(source, table["telemetry"], (SETTINGS_TABLE, "telemetry"))
    switch = _env("HESO_TELEMETRY")
    if switch is not None:
        conf = dataclasses.replace(conf, enabled=_parse_bool(switch, "HESO_TELEMETRY"))
    return conf


def init(
    *,
    project_root: str | os.PathLike[str] | None = None,
    binary: str | None = None,
    workflow: str | None = None,
    account: str | None = None,
    clock_override: datetime | str | None = None,
    timeout: float | None = None,
    blocking: bool | None = None,
    telemetry: Any = None,
) -> Config:
    """Configure heso for this process: find ``heso.toml``, load the policy and key, open the
    stores (:mod:`heso.stores`).

    ``telemetry`` (``True``, a table like ``[heso.telemetry]``, or a tracer provider) turns
    on OpenTelemetry spans for every decision (``docs/telemetry.md``). Fails fast with
    ``HesoConfigError`` when no ``heso.toml`` is found, the policy is invalid or the operator
    key cannot be unlocked. Calling it again replaces the configuration.
    """
    global _runtime
    config, source = resolve(
        project_root=project_root,
        binary=binary,
        workflow=workflow,
        account=account,
        clock_override=clock_override,
        timeout=timeout,
        blocking=blocking,
        telemetry=telemetry,
    )
    policy = policy_from_source(source)
    approvals = stores.open_approvals(config.store_spec)
    key = load_operator_key(config.data_dir)
    _require_pinned(config, key, source)
    _telemetry.configure(config.telemetry)
    runtime = Runtime(
        config=config,
        policy=policy,
        key=key,
        identity=key.public_key().to_str(),
        ledger=stores.open_ledger(
            config.store_spec,
            key=key,
            durability=config.durability,
            lock_timeout=config.timeout,
            transparency=config.transparency,
        ),
        approvals=approvals,
        reveal=RevealStore(config.data_dir / "reveal", fsync=config.durability == "fsync"),
        source=source,
    )
    with _init_lock:
        old, _runtime = _runtime, runtime
    if old is not None:
        old.ledger.close()
    _register_exit_seal()
    return config


def _require_pinned(config: Config, key: SigningKey, source: TomlSource) -> None:
    """Refuse an operator key that ``[heso] operator_keys`` does not pin: a swapped
    ``operator.key`` would otherwise sign receipts every pinned verifier rejects later."""
    if not config.operator_keys:
        return
    public = key.public_key()
    if public in {PublicKey.from_str(text) for text in config.operator_keys}:
        return
    raise source.error(
        f"the operator key in {config.data_dir / OPERATOR_KEY_FILE} ({public.to_str()}) is "
        "not one that heso.toml pins in [heso] operator_keys",
        (SETTINGS_TABLE, "operator_keys"),
        hint="if heso-local-data/ was replaced, restore the original operator.key; if you "
        "rotated the key on purpose, add its public key to operator_keys",
    )


_exit_registered = False


def _register_exit_seal() -> None:
    global _exit_registered
    if not _exit_registered:
        atexit.register(_seal_at_exit)
        _exit_registered = True


def _seal_at_exit() -> None:
    """Seal the ledger as the interpreter exits; a failure is logged (there is no caller left
    to raise to, and a traceback at exit helps nobody)."""
    rt = _runtime
    if rt is None:
        return
    try:
        rt.ledger.close()
    except Exception as exc:
        log.warning(
            "heso could not seal the audit chain at exit (%s): entries since the last seal "
            "are reported as unsealed by `heso verify --chain`",
            exc,
        )


def shutdown() -> None:
    """Seal the ledger, flush telemetry and forget the configuration (gates raise until the
    next init)."""
    global _runtime
    with _init_lock:
        old, _runtime = _runtime, None
    if old is not None:
        old.ledger.close()
    _telemetry.configure(None)
