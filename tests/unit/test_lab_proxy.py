"""The lab proxy's rules: lab clients only, ports 80/443 only, never the machine itself.

Served on loopback only; no request leaves the machine.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.lab import proxy


def test_parse_target() -> None:
    assert proxy.parse_target("CONNECT", "pypi.org:443") == ("pypi.org", 443, "")
    assert proxy.parse_target("CONNECT", "[2001:db8::1]:443") == ("2001:db8::1", 443, "")
    assert proxy.parse_target("GET", "http://deb.debian.org/debian/dists/x?a=1") == (
        "deb.debian.org",
        80,
        "/debian/dists/x?a=1",
    )
    for method, target, status in [
        ("CONNECT", "host.example:22", 403),
        ("GET", "http://host.example:8080/", 403),
        ("GET", "https://host.example/", 400),
        ("GET", "/relative", 400),
        ("CONNECT", "no-port", 400),
    ]:
        with pytest.raises(proxy.Refused) as err:
            proxy.parse_target(method, target)
        assert err.value.status == status


def test_clients_and_destinations() -> None:
    lab = proxy.parse_networks(["10.250.0.0/24", "fd00:dcf::/48"])
    assert proxy.client_allowed("10.250.0.7", lab)
    assert proxy.client_allowed("::ffff:10.250.0.7", lab)
    assert proxy.client_allowed("fd00:dcf:0:1::5", lab)
    assert not proxy.client_allowed("10.251.0.7", lab)
    assert not proxy.client_allowed("127.0.0.1", lab)
    for address in ("127.0.0.1", "::1", "169.254.169.254", "0.0.0.0", "::ffff:127.0.0.1"):
        assert not proxy.destination_allowed(address)
    assert proxy.destination_allowed("151.101.2.132")


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DcnError):
        proxy.parse_networks(["10.250.0.0/33"])
    with pytest.raises(DcnError, match="not an IP address"):
        proxy.start("lab.example", ["10.250.0.0/24"], tmp_path)


def test_node_files() -> None:
    files = proxy.node_files("http://10.250.0.1:3128")
    assert (
        'Acquire::http::Proxy "http://10.250.0.1:3128";' in files["/etc/apt/apt.conf.d/80dcn-proxy"]
    )
    assert "proxy = http://10.250.0.1:3128" in files["/etc/pip.conf"]


async def _ask(allowed: list[str], request: bytes) -> bytes:
    server = await asyncio.start_server(
        proxy.Proxy(proxy.parse_networks(allowed)).handle, "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=30)
        writer.close()
    return answer


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (b"CONNECT host.example:22 HTTP/1.1\r\n\r\n", b" 403 "),
        (b"CONNECT 127.0.0.1:443 HTTP/1.1\r\n\r\n", b" 403 "),
        (b"GET http://169.254.169.254/latest HTTP/1.1\r\n\r\n", b" 403 "),
        (b"GET https://host.example/ HTTP/1.1\r\n\r\n", b" 400 "),
        (b"garbage\r\n\r\n", b" 400 "),
    ],
)
def test_refusals_over_loopback(request_: bytes, status: bytes) -> None:
    answer = asyncio.run(_ask(["127.0.0.0/8"], request_))
    assert answer.startswith(b"HTTP/1.1") and status in answer.split(b"\r\n")[0]


def test_client_outside_the_lab_gets_nothing() -> None:
    # closed without an answer (a reset when the request was still unread)
    try:
        answer = asyncio.run(_ask(["10.250.0.0/24"], b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n"))
    except ConnectionResetError:
        answer = b""
    assert answer == b""


def test_a_grown_lab_restarts_the_proxy_for_its_new_leaves(tmp_path: Path) -> None:
    """The real proxy process on loopback: started once, kept for the same client
    networks, started again when a site's leaf is added (else the new site's nodes
    cannot reach the mirror)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_dir = tmp_path / "proxy"
    try:
        proxy.start("127.0.0.1", ["10.250.0.0/24"], run_dir, port)
        first = proxy._pid(run_dir)
        assert first is not None
        proxy.start("127.0.0.1", ["10.250.0.0/24"], run_dir, port)
        assert proxy._pid(run_dir) == first
        proxy.start("127.0.0.1", ["10.250.0.0/24", "10.251.0.0/24"], run_dir, port)
        second = proxy._pid(run_dir)
        assert second is not None and second != first
        served = (run_dir / proxy.ALLOWED_FILE).read_text().split()
        assert served == ["10.250.0.0/24", "10.251.0.0/24"]
    finally:
        proxy.stop(run_dir)
    assert not proxy.running(run_dir)
