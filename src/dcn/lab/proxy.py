"""A small HTTP proxy on the lab's host side, so full-host nodes reach the Debian mirror
and PyPI: the machine does not forward packets for the lab's namespaces.

It serves only clients from the lab's subnets, only ports 80 and 443 upstream, never
the machine's own loopback or link-local addresses (a node must not reach the
machine's local services or a cloud metadata service through it), a bounded number of
connections at once, one request per connection for plain HTTP (``CONNECT`` tunnels
for HTTPS). It runs as a detached process with a pid file; `start` and `stop` manage it.
Its log names clients, methods and hosts, never paths or headers (they can hold tokens).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from dcn.errors import DcnError

PORT = 3128
ALLOWED_PORTS = frozenset({80, 443})
MAX_CONNECTIONS = 256
HEADER_LIMIT = 32 * 1024
HEADER_TIMEOUT = 30.0
CONNECT_TIMEOUT = 15.0
IDLE_TIMEOUT = 300.0
CHUNK = 64 * 1024
PID_FILE = "proxy.pid"
LOG_FILE = "proxy.log"
#: the client networks the running proxy serves, one per line
ALLOWED_FILE = "allowed"
START_WAIT = 10.0
_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """A request the proxy does not serve: (HTTP status, reason)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_networks(cidrs: Sequence[str]) -> list[Network]:
    try:
        return [ipaddress.ip_network(c, strict=False) for c in cidrs]
    except ValueError as exc:
        raise DcnError(f"lab proxy: {exc}", hint="give subnets like 10.250.0.0/24") from None


def client_allowed(address: str, allowed: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in allowed)


def destination_allowed(address: str) -> bool:
    """Upstream addresses the proxy may connect to: not the machine itself."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def parse_target(method: str, target: str) -> tuple[str, int, str]:
    """(host, port, origin-form path) of a proxy request; Refused when not served."""
    if method == "CONNECT":
        host, sep, port = target.rpartition(":")
        if not sep or not port.isdigit():
            raise Refused(400, "CONNECT needs host:port")
        host, path = host.strip("[]"), ""
        number = int(port)
    else:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            raise Refused(400, "only absolute http:// URLs (use CONNECT for https)")
        host = parts.hostname
        try:
            number = parts.port or 80
        except ValueError:
            raise Refused(400, "bad port") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
    if number not in ALLOWED_PORTS:
        raise Refused(403, f"port {number} is not served (only 80 and 443)")
    return host, number, path


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise Refused(502, "name does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    good = [a for a in addresses if destination_allowed(a)]
    if not good:
        raise Refused(403, "destination is the machine itself")
    return good


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    last: Exception | None = None
    for address in await _resolve(host, port):
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(address, port), timeout=CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            last = exc
    raise Refused(502, f"cannot connect ({type(last).__name__})")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    moved = 0
    try:
        while True:
            data = await asyncio.wait_for(reader.read(CHUNK), timeout=IDLE_TIMEOUT)
            if not data:
                break
            moved += len(data)
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()
    return moved


class Proxy:
    """The server: bounded, lab clients only, 80/443 only."""

    def __init__(self, allowed: Sequence[Network], max_connections: int = MAX_CONNECTIONS):
        self.allowed = list(allowed)
        self.slots = asyncio.Semaphore(max_connections)
        self.log = sys.stderr

    def note(self, text: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {text}", file=self.log)
        self.log.flush()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            if not client_allowed(str(peer[0]), self.allowed):
                self.note(f"{peer[0]} refused: not a lab address")
                return
            if self.slots.locked():
                await self._reply(writer, 503, "too many connections")
                return
            async with self.slots:
                await self._serve(peer[0], reader, writer)
        except Refused as exc:
            await self._reply(writer, exc.status, exc.reason)
            self.note(f"{peer[0]} {exc.status} {exc.reason}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()
                await writer.wait_closed()

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
        body = f"{reason}\n".encode()
        with contextlib.suppress(OSError):
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()

    async def _serve(
        self, client: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=HEADER_TIMEOUT)
        except asyncio.LimitOverrunError:
            raise Refused(431, "request header too large") from None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            raise Refused(400, "bad request line") from None
        host, port, path = parse_target(method, target)
        upstream_reader, upstream = await _open(host, port)
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                headers = [
                    h
                    for h in lines[1:]
                    if h and h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
                ]
                if not any(h.lower().startswith("host:") for h in headers):
                    headers.insert(0, f"Host: {host}")
                request = [f"{method} {path} {version}", *headers, "Connection: close", "", ""]
                upstream.write("\r\n".join(request).encode("latin-1"))
                await upstream.drain()
            self.note(f"{client} {method} {host}:{port}")
            # done when the upstream is: for plain HTTP it closes after its response
            # (Connection: close), and the client opens a new connection for the next
            sending = asyncio.ensure_future(_pipe(reader, upstream))
            try:
                await _pipe(upstream_reader, writer)
            finally:
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
        finally:
            with contextlib.suppress(OSError):
                upstream.close()


async def serve(bind: str, port: int, allowed: Sequence[Network], pid_file: Path | None) -> None:
    proxy = Proxy(allowed)
    server = await asyncio.start_server(proxy.handle, bind, port, limit=HEADER_LIMIT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if pid_file is not None:
        tmp = pid_file.with_suffix(".tmp")
        tmp.write_text(f"{os.getpid()}\n")
        tmp.replace(pid_file)
    proxy.note(f"listening on {bind}:{port} for {', '.join(map(str, allowed))}")
    async with server:
        await stop.wait()
    if pid_file is not None:
        pid_file.unlink(missing_ok=True)


# -- the detached process ---------------------------------------------------------


def _pid(run_dir: Path) -> int | None:
    """The proxy's pid, if it runs (checked by its command line)."""
    try:
        pid = int((run_dir / PID_FILE).read_text().split()[0])
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in ("Z", "X") or b"dcn.lab.proxy" not in cmd or str(run_dir).encode() not in cmd:
        return None
    return pid


def running(run_dir: Path) -> bool:
    return _pid(run_dir) is not None


def url(bind: str, port: int = PORT) -> str:
    host = f"[{bind}]" if ":" in bind else bind
    return f"http://{host}:{port}"


def start(bind: str, allowed: Sequence[str], run_dir: Path, port: int = PORT) -> str:
    """Start the proxy (once) as a detached process; return its URL for the nodes. A
    proxy running for other client networks (the lab grew a site) is started again
    for these, so a new site's nodes reach the mirror too."""
    nets = parse_networks(allowed)
    wanted = "".join(f"{n}\n" for n in sorted(str(n) for n in nets))
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        raise DcnError(
            f"lab proxy: {bind!r} is not an IP address",
            hint="bind it to the lab's host-side address",
        ) from None
    run_dir.mkdir(parents=True, exist_ok=True)
    served = run_dir / ALLOWED_FILE
    if running(run_dir):
        if served.exists() and served.read_text() == wanted:
            return url(bind, port)
        stop(run_dir)
    (run_dir / PID_FILE).unlink(missing_ok=True)
    served.write_text(wanted)
    log = run_dir / LOG_FILE
    with open(log, "ab") as out:
        subprocess.run(
            [
                "setsid",
                "-f",
                sys.executable,
                "-m",
                "dcn.lab.proxy",
                "--bind",
                bind,
                "--port",
                str(port),
                "--run-dir",
                str(run_dir),
                *(a for n in nets for a in ("--allow", str(n))),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    deadline = time.monotonic() + START_WAIT
    while not running(run_dir):
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
            raise DcnError(
                f"lab proxy did not start on {bind}:{port}:\n{tail}",
                hint="the address must be on this machine and the port free",
            )
        time.sleep(0.05)
    return url(bind, port)


def stop(run_dir: Path, wait: float = 10.0) -> bool:
    """Stop the proxy if it runs; True when one was stopped."""
    pid = _pid(run_dir)
    if pid is None:
        (run_dir / PID_FILE).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while _pid(run_dir) == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid(run_dir) == pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    (run_dir / PID_FILE).unlink(missing_ok=True)
    return True


#: the node image's CA bundle (the machine's, copied in by `dcn.lab.image`)
NODE_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def node_files(proxy_url: str) -> dict[str, str]:
    """What a node needs to use the proxy: apt's setting and pip's. pip is told to trust
    the node's CA bundle: in a venv it would trust only its own, and the machine's may
    hold a TLS-inspecting gateway's CA."""
    return {
        "/etc/apt/apt.conf.d/80dcn-proxy": (
            f'Acquire::http::Proxy "{proxy_url}";\nAcquire::https::Proxy "{proxy_url}";\n'
        ),
        "/etc/pip.conf": f"[global]\nproxy = {proxy_url}\ncert = {NODE_CA_BUNDLE}\n",
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dcn.lab.proxy")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--allow", action="append", required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        nets = parse_networks(args.allow)
    except DcnError as exc:
        parser.error(exc.message)
    asyncio.run(serve(args.bind, args.port, nets, args.run_dir / PID_FILE))


if __name__ == "__main__":
    main()
