"""Who may read the web view, and the headers every response carries.

On 127.0.0.1 (the default) the view is the operator's own: no token, but requests
must name a loopback host (a page elsewhere cannot reach it through DNS rebinding).
Bound anywhere else, every request needs the token: generated on first use, kept
0600 in the state directory, shown once; sent as ``Authorization: Bearer TOKEN`` or,
after one visit with ``?token=TOKEN``, as an HttpOnly, SameSite=Strict cookie.
Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dcn.errors import DcnError

TOKEN_FILE = "serve-token"
COOKIE = "dcn_serve_token"
#: no inline script or style anywhere: the pages use /static files and CSS classes only
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
#: hosts that need no token: the machine's own loopback
NO_TOKEN_HOSTS = ("127.0.0.1", "localhost", "::1")


def needs_token(host: str) -> bool:
    """Every bind but this machine's own loopback address needs the token (127.0.0.2 is
    loopback too, but not the default: asking for it is asking for something else)."""
    return host not in NO_TOKEN_HOSTS


def loopback_hosts(host: str, port: int) -> set[str]:
    """The Host headers a tokenless view answers: itself by address or as localhost."""
    names = {host, "127.0.0.1", "localhost", "[::1]"}
    shown = {f"[{h}]" if ":" in h and not h.startswith("[") else h for h in names}
    return {*shown, *(f"{h}:{port}" for h in shown)}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_or_create_token(state_dir: Path) -> tuple[str, bool]:
    """The view's token and whether it was made now (to be shown once). Created 0600
    from its first byte, never through a symbolic link, never replacing a file."""
    path = state_dir / TOKEN_FILE
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DcnError(
            f"cannot read the web view's token {path}: {exc.strerror}",
            hint=f"remove it ('rm {path}'): a new one is made and shown",
        ) from exc
    else:
        with os.fdopen(fd) as f:
            info = os.fstat(f.fileno())
            if info.st_mode & 0o077 or info.st_uid != os.getuid():
                raise DcnError(
                    f"the web view's token {path} is readable by others or not yours",
                    hint=f"remove it ('rm {path}'): a new one is made and shown",
                )
            token = f.read().strip()
        if len(token) >= 32:
            return token, False
        raise DcnError(f"the web view's token {path} is empty or short", hint=f"rm {path}")
    token = secrets.token_urlsafe(32)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise DcnError(
            f"cannot keep the web view's token in {path}: {exc.strerror}",
            hint="give a state directory of yours with --state-dir",
        ) from exc
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, True


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class Guard:
    """ASGI middleware: the host or token check, then the security headers on every
    response (the refusals included)."""

    def __init__(self, app: ASGIApp, token: str | None, hosts: set[str] | None) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                # how long the server took to answer (the bench reads it; so can devtools)
                spent = (time.perf_counter() - started) * 1000
                headers["server-timing"] = f"app;dur={spent:.1f}"
            await send(message)

        refusal = self._refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)

    def _refusal(self, request: Request) -> Response | None:
        """None: the request may go on; else the response that turns it away."""
        if self.hosts is not None and request.headers.get("host", "") not in self.hosts:
            return PlainTextResponse("unknown host: open the address dcn serve printed", 400)
        if self.token is None:
            return None
        offered = request.query_params.get("token")
        if offered is not None:
            if not _same(offered, self.token):
                return PlainTextResponse("wrong token", 403)
            # the token leaves the address bar (and history) at once: a cookie carries it
            rest = [(k, v) for k, v in parse_qsl(request.url.query) if k != "token"]
            path = "/" + request.url.path.lstrip("/")  # never //host: another site
            target = path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, 303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return response
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        given = given or request.cookies.get(COOKIE)
        if given is None:
            return PlainTextResponse(
                "this view needs its token: open the address dcn serve printed "
                "(?token=...), or send 'Authorization: Bearer TOKEN'",
                401,
            )
        return None if _same(given, self.token) else PlainTextResponse("wrong token", 403)
