"""The ``heso console`` web app (Starlette): receipts, the chain, approvals from the browser.

Access control, for a server on the team's own machine:

* **Token.** ``heso console`` prints ``http://127.0.0.1:<port>/?token=<random>``. Opening it
  once trades the token for an HttpOnly, ``SameSite=Strict`` session cookie and redirects to a
  URL without it. Scripts may send ``Authorization: Bearer <token>`` instead.
* **CSRF.** Every state change is a POST that must carry the session's CSRF token
  (``X-CSRF-Token``, handed out by ``GET /api/session``, which other origins cannot read) and,
  when the browser sends one, an ``Origin`` equal to the console's own.
* **Host.** Requests whose ``Host`` is not a loopback name (or the ``--host`` given) are
  refused, so a DNS-rebound name cannot reach the API.
* **Headers.** A strict Content-Security-Policy (scripts and styles from the console only,
  ``connect-src 'self'``), no framing, no referrer, no caching.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heso import web
from heso.console.data import ProjectView

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
CSRF_HEADER = "x-csrf-token"
MAX_BODY = 256 * 1024
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def host_name(host_header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8714`` → ``[::1]``), lowercased."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class GuardMiddleware:
    """Refuses unexpected ``Host`` headers and adds the security headers to every response."""

    def __init__(self, app: ASGIApp, allowed_hosts: Collection[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if self.allowed is not None and host not in self.allowed:
            response = JSONResponse(
                {"error": "HostNotAllowed", "message": f"host {host!r} is not allowed"},
                status_code=403,
            )
            await self._with_headers(response)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _with_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS:
            response.headers[name.decode()] = value.decode()
        return response


class Sessions:
    """The console's login token and the browser sessions it was traded for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.cookie = "heso_console_" + secrets.token_hex(4)
        self._csrf: dict[str, str] = {}

    def token_ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode("utf-8", "replace"), self.token.encode()
        )

    def open(self) -> str:
        sid = secrets.token_urlsafe(32)
        self._csrf[sid] = secrets.token_urlsafe(32)
        return sid

    def close(self, sid: str | None) -> None:
        if sid is not None:
            self._csrf.pop(sid, None)

    def csrf_of(self, request: Request) -> str | None:
        """The CSRF token of the request's session cookie, ``None`` without a valid one."""
        sid = request.cookies.get(self.cookie)
        if sid is None:
            return None
        for known, csrf in list(self._csrf.items()):
            if hmac.compare_digest(known.encode(), sid.encode("utf-8", "replace")):
                return csrf
        return None

    def bearer_ok(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.lower().startswith("bearer ") and self.token_ok(auth[7:].strip())


class ApiError(Exception):
    """An error answered as ``{"error", "message"}`` with an HTTP status."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def create_app(
    root: str | Path,
    *,
    token: str | None = None,
    allowed_hosts: Collection[str] | None = LOOPBACK_HOSTS,
) -> Starlette:
    """The console for the project at ``root``. ``token`` defaults to a fresh random one
    (``app.state.token``); ``allowed_hosts=None`` accepts any ``Host`` header."""
    view = ProjectView(root)
    sessions = Sessions(token or secrets.token_urlsafe(32))

    def authed(request: Request) -> bool:
        return sessions.csrf_of(request) is not None or sessions.bearer_ok(request)

    def check_post(request: Request) -> None:
        if sessions.bearer_ok(request):
            return
        csrf = sessions.csrf_of(request)
        if csrf is None:
            raise ApiError(401, "Unauthorized", "log in with the URL heso console printed")
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode("utf-8", "replace"), csrf.encode()):
            raise ApiError(403, "CsrfFailed", "missing or wrong CSRF token")
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin is not None and origin != own:
            raise ApiError(403, "CsrfFailed", f"cross-origin request from {origin}")

    def api(
        handler: Callable[[Request, bytes], Any], *, post: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """An API endpoint: authentication (and CSRF for POST), then ``handler(request, body)``
        in a worker thread (it reads files and verifies signatures)."""

        async def endpoint(request: Request) -> Response:
            try:
                if post:
                    check_post(request)
                elif not authed(request):
                    raise ApiError(401, "Unauthorized", "log in with the URL heso console printed")
                body = await request.body() if post else b""
                if len(body) > MAX_BODY:
                    raise ApiError(413, "TooLarge", "request body too large")
                return JSONResponse(await run_in_threadpool(handler, request, body))
            except ApiError as exc:
                return JSONResponse(
                    {"error": exc.error, "message": exc.message}, status_code=exc.status
                )
            except LookupError as exc:
                return JSONResponse({"error": "NotFound", "message": str(exc)}, status_code=404)
            except ValueError as exc:
                return JSONResponse({"error": "BadRequest", "message": str(exc)}, status_code=400)
            except Exception as exc:
                from heso.errors import HesoError

                if not isinstance(exc, HesoError):
                    raise
                message = exc.diagnostics() if hasattr(exc, "diagnostics") else str(exc)
                return JSONResponse(
                    {"error": type(exc).__name__, "message": message}, status_code=409
                )

        return endpoint

    async def export(request: Request) -> Response:
        """The filtered receipts as a download (``format=jsonl`` or ``csv``)."""
        if not authed(request):
            return JSONResponse(
                {"error": "Unauthorized", "message": "log in with the URL heso console printed"},
                status_code=401,
            )
        params = dict(request.query_params)
        form = params.pop("format", "jsonl")
        if form not in ("jsonl", "csv"):
            return JSONResponse(
                {"error": "BadRequest", "message": "format must be jsonl or csv"}, status_code=400
            )
        try:
            # the filters are checked before the first byte is sent
            await run_in_threadpool(view.receipts, {**params, "limit": "1"})
            rows = view.export(params, form)
        except ValueError as exc:
            return JSONResponse({"error": "BadRequest", "message": str(exc)}, status_code=400)
        media = "text/csv; charset=utf-8" if form == "csv" else "application/x-ndjson"
        return StreamingResponse(
            rows,
            media_type=media,
            headers={"content-disposition": f'attachment; filename="heso-receipts.{form}"'},
        )

    async def index(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            if not sessions.token_ok(given):
                return HTMLResponse(_page("That token is not valid for this console."), 403)
            sessions.close(request.cookies.get(sessions.cookie))
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(
                sessions.cookie, sessions.open(), httponly=True, samesite="strict", path="/"
            )
            return response
        if sessions.csrf_of(request) is None:
            return HTMLResponse(
                _page("Open the URL that <code>heso console</code> printed (it has the token)."),
                401,
            )
        return HTMLResponse(web.console_html())

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in web.STATIC_FILES:
            return JSONResponse({"error": "NotFound", "message": name}, status_code=404)
        return Response(web.static_text(name), media_type=_TYPES[Path(name).suffix])

    def session(request: Request, body: bytes) -> dict[str, Any]:
        trust = view.trust().to_dict()
        return {
            "csrf": sessions.csrf_of(request),
            "project": str(view.root),
            "operator": view.operator(),
            "approvers": trust["approvers"],
            "trust": trust,
        }

    def receipts(request: Request, body: bytes) -> dict[str, Any]:
        return view.receipts(dict(request.query_params))

    def timeline(request: Request, body: bytes) -> dict[str, Any]:
        return view.timeline(dict(request.query_params))

    def status(request: Request, body: bytes) -> dict[str, Any]:
        return view.status()

    def entry(request: Request, body: bytes) -> dict[str, Any]:
        return view.entry(int(request.path_params["seq"]))

    def checkpoints(request: Request, body: bytes) -> dict[str, Any]:
        return view.checkpoints()

    def proof(request: Request, body: bytes) -> dict[str, Any]:
        return view.inclusion(int(request.path_params["seq"]))

    def chain(request: Request, body: bytes) -> dict[str, Any]:
        return view.chain(dict(request.query_params))

    def approvals(request: Request, body: bytes) -> list[dict[str, Any]]:
        return view.approvals(include_all=request.query_params.get("all") in ("1", "true"))

    def approval(request: Request, body: bytes) -> dict[str, Any]:
        return view.approval(
            request.path_params["action_hash"], request.query_params.get("public_key")
        )

    def decide(request: Request, body: bytes) -> dict[str, Any]:
        from heso.canonical import loads_strict
        from heso.errors import CanonicalizationError

        try:
            doc = loads_strict(body)
        except CanonicalizationError as exc:
            raise ApiError(400, "BadRequest", f"not strict JSON: {exc}") from None
        part = doc.get("part") if isinstance(doc, dict) else None
        record = part.get("record") if isinstance(part, dict) else None
        if not isinstance(record, dict):
            raise ApiError(400, "BadRequest", 'send {"part": {"record", "signer"}}')
        if record.get("action_hash") != request.path_params["action_hash"]:
            raise ApiError(400, "BadRequest", "the record decides another action")
        return view.decide(part)

    def logout(request: Request, body: bytes) -> dict[str, Any]:
        sessions.close(request.cookies.get(sessions.cookie))
        return {"ok": True}

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/session", api(session)),
        Route("/api/receipts", api(receipts)),
        Route("/api/entries/{seq:int}", api(entry)),
        Route("/api/entries/{seq:int}/proof", api(proof)),
        Route("/api/checkpoints", api(checkpoints)),
        Route("/api/timeline", api(timeline)),
        Route("/api/status", api(status)),
        Route("/api/export", export),
        Route("/api/chain", api(chain)),
        Route("/api/approvals", api(approvals)),
        Route("/api/approvals/{action_hash}", api(approval)),
        Route("/api/approvals/{action_hash}/decision", api(decide, post=True), methods=["POST"]),
        Route("/api/logout", api(logout, post=True), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(GuardMiddleware, allowed_hosts=allowed_hosts)
    app.state.token = sessions.token
    app.state.view = view
    return app


def _page(message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>heso console</title>'
        '<link rel="stylesheet" href="/static/heso.css"><link rel="icon" href="data:,"></head>'
        '<body><header class="top"><h1><b>heso</b> console</h1></header><main>'
        f'<section class="card"><p>{message}</p></section></main></body></html>'
    )
