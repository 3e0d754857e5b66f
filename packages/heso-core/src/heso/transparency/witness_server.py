"""The witness on HTTP: ``POST /add-checkpoint`` and ``GET /<origin hash>/checkpoint``.

Run one with ``python -m heso.transparency.witness_server --config witness.toml`` (``heso witness
serve`` in the CLI); ``--init-key`` creates the witness key first. The configuration::

    name = "auditor.example/witness"      # the witness's key name
    key_file = "witness.key"              # an encrypted heso key file (role "witness")
    state_dir = "witness-state"           # where the latest checkpoint of each log is kept
    listen = "127.0.0.1:7380"

    [[log]]
    origin = "heso/1a2b3c4d5e6f7a8b"       # the log's checkpoint origin line
    keys = ["heso/1a2b3c4d5e6f7a8b+0123abcd+Ab…"]   # the log's verifier keys (vkeys)

Relative paths are relative to the configuration file. The key's passphrase comes from
``HESO_KEY_PASSPHRASE``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from heso.errors import HesoConfigError, HesoError, TransparencyError, WitnessError
from heso.keys import ENV_PASSPHRASE, SigningKey, read_key_file, write_key_file
from heso.toml_source import TomlSource
from heso.transparency.cosignature import CosignatureSigner
from heso.transparency.note import Verifier
from heso.transparency.vkey import parse_vkey
from heso.transparency.witness import SIZE_CONTENT_TYPE, Witness

__all__ = ["WitnessConfig", "load_config", "main", "make_server", "open_witness"]

log = logging.getLogger("heso.witness")

MAX_REQUEST_BYTES: Final = 256 * 1024
"""Largest add-checkpoint body read (a checkpoint with many post-quantum signatures fits)."""
REQUEST_TIMEOUT: Final = 30.0
_CHECKPOINT_PATH = re.compile(r"/([0-9a-f]{64})/checkpoint")


@dataclass(frozen=True)
class WitnessConfig:
    """A witness's name, key file, state directory, address, and the logs it witnesses."""

    name: str
    key_file: Path
    state_dir: Path
    host: str
    port: int
    logs: dict[str, tuple[Verifier, ...]]


def load_config(path: str | os.PathLike[str]) -> WitnessConfig:
    """Read a witness configuration; errors name the file, line and key."""
    src = TomlSource.read(path)
    data, base = src.data, Path(path).resolve().parent

    def text(key: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value:
            raise src.error(f"{key} must be a non-empty string", [key], value=True)
        return value

    name = text("name")
    host, _, port = text("listen", "127.0.0.1:7380").rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise src.error("listen must be host:port", ["listen"], value=True)
    entries = data.get("log")
    if not isinstance(entries, list) or not entries:
        raise src.error("list the logs to witness as [[log]] tables", ["log"])
    logs: dict[str, tuple[Verifier, ...]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise src.error("each [[log]] is a table", ["log", i])
        origin, keys = entry.get("origin"), entry.get("keys")
        if not isinstance(origin, str) or not origin:
            raise src.error("origin must be the log's origin line", ["log", i, "origin"])
        if origin in logs:
            raise src.error(f"log {origin!r} is listed twice", ["log", i, "origin"])
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise src.error("keys must list the log's vkeys", ["log", i, "keys"], value=True)
        try:
            logs[origin] = tuple(parse_vkey(k) for k in keys)
        except TransparencyError as exc:
            raise src.error(str(exc), ["log", i, "keys"], value=True) from None
    return WitnessConfig(
        name=name,
        key_file=base / text("key_file"),
        state_dir=base / text("state_dir"),
        host=host.strip("[]"),
        port=int(port),
        logs=logs,
    )


def _passphrase() -> bytes:
    value = os.environ.get(ENV_PASSPHRASE, "")
    if not value:
        raise HesoConfigError(
            "the witness key's passphrase is not set", hint=f"export {ENV_PASSPHRASE}=…"
        )
    return value.encode("utf-8")


def open_witness(config: WitnessConfig) -> Witness:
    """The witness a configuration describes, its key unlocked."""
    key = read_key_file(config.key_file, _passphrase())
    return Witness(CosignatureSigner(config.name, key), config.logs, config.state_dir)


def _handler(witness: Witness, prefix: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "heso-witness"
        protocol_version = "HTTP/1.1"
        timeout = REQUEST_TIMEOUT

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _refuse(self, exc: WitnessError) -> None:
            if exc.status == 409 and exc.latest_size is not None:
                self._answer(409, b"%d\n" % exc.latest_size, SIZE_CONTENT_TYPE)
            else:
                body = (str(exc) + "\n").encode("utf-8")
                self._answer(exc.status or 500, body, "text/plain; charset=utf-8")

        def _route(self) -> str | None:
            path = self.path.split("?", 1)[0]
            return path[len(prefix) :] if path.startswith(prefix) else None

        def do_POST(self) -> None:
            if self._route() != "/add-checkpoint":
                self._refuse(WitnessError("not found", status=404))
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                self._refuse(WitnessError("a Content-Length is required", status=411))
                return
            if int(length) > MAX_REQUEST_BYTES:
                self.close_connection = True
                self._refuse(WitnessError("request too large", status=413))
                return
            body = self.rfile.read(int(length))
            try:
                self._answer(200, witness.add_checkpoint(body), "text/plain; charset=utf-8")
            except WitnessError as exc:
                if exc.status == 500:
                    log.error("add-checkpoint failed: %s", exc)
                self._refuse(exc)
            except Exception:
                log.exception("add-checkpoint crashed; nothing was cosigned")
                self._refuse(WitnessError("internal error; nothing was cosigned", status=500))

        def do_GET(self) -> None:
            match = _CHECKPOINT_PATH.fullmatch(self._route() or "")
            if match is None:
                self._refuse(WitnessError("not found", status=404))
                return
            try:
                note = witness.latest_checkpoint(match.group(1))
            except WitnessError as exc:
                self._refuse(exc)
                return
            self._answer(200, note, "text/plain; charset=utf-8")

    return Handler


def make_server(
    witness: Witness, host: str = "127.0.0.1", port: int = 0, *, prefix: str = ""
) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server for ``witness``; ``prefix`` is the URL prefix."""
    server = ThreadingHTTPServer((host, port), _handler(witness, prefix.rstrip("/")))
    server.daemon_threads = True
    return server


def _init_key(config: WitnessConfig) -> None:
    if config.key_file.exists():
        raise HesoConfigError("the witness key file exists already", path=config.key_file)
    write_key_file(
        config.key_file,
        SigningKey.generate(),
        _passphrase(),
        role="witness",
        require_passphrase=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a witness until SIGINT or SIGTERM."""
    ap = argparse.ArgumentParser(prog="heso-witness", description="Run a tlog-witness.")
    ap.add_argument("--config", required=True, help="the witness.toml file")
    ap.add_argument("--init-key", action="store_true", help="create the witness key, then serve")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = load_config(args.config)
        if args.init_key:
            _init_key(config)
        witness = open_witness(config)
        server = make_server(witness, config.host, config.port)
    except (HesoError, OSError) as exc:
        print(f"heso witness: {exc}", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    host = host.decode() if isinstance(host, bytes) else host
    print(f"witness {witness.signer.verifier().vkey()}", flush=True)
    print(f"listening on http://{host}:{port} for {', '.join(witness.logs)}", flush=True)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        witness.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
