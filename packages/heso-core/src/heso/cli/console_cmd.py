"""``heso console``: the local web console (receipts, the chain, approvals from a browser)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from heso.cli._output import EXIT_USAGE, add_json_flag

DEFAULT_PORT = 8714
INSTALL_HINT = (
    'pip install "./packages/heso-core[console]" (from a clone of the heso repository; '
    "heso-core is not on PyPI yet)"
)
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "console", help="open the local web console: receipts, the chain, approvals"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; other hosts can then reach it)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one). A browser key is kept per "
        "host and port, so keep the same one",
    )
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        message = f"heso console needs the console extra ({exc.name} is missing): {INSTALL_HINT}"
        if args.json:
            sys.stdout.write(json.dumps({"ok": False, "error": "MissingExtra", "message": message}))
            sys.stdout.write("\n")
        else:
            sys.stderr.write(f"error: {message}\n")
        return EXIT_USAGE

    import secrets
    import threading
    import webbrowser

    from heso.console.app import LOOPBACK_HOSTS, create_app
    from heso.project import require_root

    root = require_root(args.project)
    sock = _bind(args.host, args.port)
    try:
        port = sock.getsockname()[1]
        wildcard = args.host in WILDCARD_HOSTS
        allowed = None if wildcard else {*LOOPBACK_HOSTS, args.host.lower()}
        token = secrets.token_urlsafe(32)
        app = create_app(root, token=token, allowed_hosts=allowed)
        shown = "127.0.0.1" if wildcard else f"[{args.host}]" if ":" in args.host else args.host
        url = f"http://{shown}:{port}/?token={token}"
        if args.json:
            info = {
                "url": url,
                "host": args.host,
                "port": port,
                "token": token,
                "project": str(root),
            }
            sys.stdout.write(json.dumps(info) + "\n")
        else:
            sys.stdout.write(
                f"heso console for {root}\n"
                f"  open: {url}\n"
                "  the token in this URL is the only way in; press Ctrl+C to stop\n"
            )
            if wildcard:
                sys.stdout.write("  warning: listening on every interface; any Host is accepted\n")
        sys.stdout.flush()
        if not args.no_browser:
            threading.Timer(0.5, webbrowser.open, (url,)).start()
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def _bind(host: str, port: int) -> Any:
    """A listening socket on ``host``:``port`` (``HesoConfigError`` when it cannot be had)."""
    import socket

    from heso.errors import HesoConfigError

    sock = None
    try:
        family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        if sock is not None:
            sock.close()
        hint = "pass --port 0 for any free port" if port else None
        raise HesoConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint=hint
        ) from exc
    return sock
