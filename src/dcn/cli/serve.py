"""`dcn serve [--bind HOST:PORT]`: the read-only web view (`dcn.web`).

The flags become a bound socket, a token where one is needed, and a running server;
every problem the operator can fix (a bad --bind, a port in use, no state yet) is a
DcnError with a hint, never a traceback.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass
from typing import Annotated

import typer

from dcn.cli import render
from dcn.errors import DcnError
from dcn.workspace import Workspace

DEFAULT_BIND = "127.0.0.1:8765"


@dataclass(frozen=True, slots=True)
class Bind:
    host: str
    port: int

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port if port is not None else self.port}/"


def parse_bind(text: str) -> Bind:
    """HOST:PORT ([v6]:PORT for IPv6); the port 0 asks for any free one."""
    hint = f"--bind HOST:PORT, e.g. --bind {DEFAULT_BIND} or --bind [::1]:8765"
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise DcnError(f"bad --bind {text!r}: expected HOST:PORT", hint=hint)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise DcnError(
                f"bad --bind {text!r}: {host!r} is not an IP address", hint=hint
            ) from None
    return Bind(host, int(port))


def _socket(bind: Bind) -> socket.socket:
    family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
    host = "127.0.0.1" if bind.host == "localhost" else bind.host
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, bind.port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DcnError(
                f"port {bind.port} on {bind.host} is in use",
                hint=f"choose another: dcn serve --bind {bind.host}:{bind.port + 1}",
            ) from None
        raise DcnError(
            f"cannot listen on {bind.host}:{bind.port}: {exc.strerror}",
            hint="use an address of this machine, e.g. --bind 127.0.0.1:8765",
        ) from None
    sock.set_inheritable(True)
    return sock


def _check_state(ws: Workspace) -> None:
    """The view reads a state store; it never makes one."""
    if ws.state_url is None and not (ws.state_dir / "state.db").is_file():
        raise DcnError(
            f"no state store at {ws.state_dir}",
            hint=f"record the description first: dcn -f {ws.file} plan "
            "(it touches no host), or point at the store with --state-dir",
        )
    ws.deployment  # noqa: B018 - the description must be valid: say so now, not per page


def serve(ws: Workspace, bind_text: str) -> None:
    import uvicorn

    from dcn.web.app import create_app
    from dcn.web.security import load_or_create_token, loopback_hosts, needs_token

    bind = parse_bind(bind_text)
    _check_state(ws)
    ws.store  # noqa: B018 - opened (and its key checked) before the port is taken
    sock = _socket(bind)
    port = sock.getsockname()[1]
    token = None
    hosts = loopback_hosts(bind.host, port)
    if needs_token(bind.host):
        hosts = None  # the token guards it; any name the operator reaches it by will do
        token, new = load_or_create_token(ws.state_dir)
        if new:
            render.out.print(
                "a token is needed off 127.0.0.1; it is shown this once and kept (0600) in "
                f"{ws.state_dir}/serve-token:"
            )
            render.out.print(f"  {bind.url(port)}?token={token}", soft_wrap=True)
        else:
            render.out.print(f"the token is in {ws.state_dir}/serve-token (shown when made)")
    render.out.print(
        f"dcn serve: {bind.url(port)} (read-only view of {ws.deployment.name}; Ctrl-C stops it)",
        soft_wrap=True,
    )
    app = create_app(ws, token=token, hosts=hosts)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        ctx: typer.Context,
        bind: Annotated[
            str,
            typer.Option(
                "--bind",
                help="HOST:PORT to listen on (default 127.0.0.1:8765; any other host "
                "needs the token it prints once)",
            ),
        ] = DEFAULT_BIND,
    ) -> None:
        """A read-only web view: fleet, topology, sites, drills, rollouts; live."""
        serve(ctx.obj, bind)
