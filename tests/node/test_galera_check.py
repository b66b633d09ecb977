"""``cluster.py check-server``: haproxy's check of a Galera member over HTTP. 200 only
for a member Synced in the Primary component and ready; 503 with the reason otherwise
(joining, a donor, cut off in a minority, the server down)."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from dcn.node import cluster

SYNCED = {
    "wsrep_local_state_comment": "Synced",
    "wsrep_cluster_status": "Primary",
    "wsrep_ready": "ON",
}


@pytest.mark.parametrize(
    ("wsrep", "ok", "why"),
    [
        (SYNCED, True, "Synced, Primary"),
        ({**SYNCED, "wsrep_cluster_status": "non-Primary"}, False, "non-Primary"),
        (
            {**SYNCED, "wsrep_local_state_comment": "Joining: receiving State Transfer"},
            False,
            "Joining",
        ),
        ({**SYNCED, "wsrep_local_state_comment": "Donor/Desynced"}, False, "Donor"),
        ({**SYNCED, "wsrep_ready": "OFF"}, False, "ready OFF"),
        ({"error": "Can't connect to local server through socket"}, False, "Can't connect"),
    ],
)
def test_only_a_synced_primary_member_serves_clients(
    wsrep: dict[str, str], ok: bool, why: str
) -> None:
    verdict = cluster.serves_clients(wsrep)
    assert verdict[0] is ok and why in verdict[1]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, str]]]:
    """The check server on a free loopback port, reading `state` as the server's status."""
    state = dict(SYNCED)
    monkeypatch.setattr(cluster, "_wsrep", lambda timeout: dict(state))
    monkeypatch.setattr(cluster, "CHECK_CACHE", 0.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    thread = threading.Thread(target=cluster.check_server, args=(f"127.0.0.1:{port}",), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):  # bounded: the server binds at once
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            threading.Event().wait(0.05)
    yield url, state


def test_haproxy_gets_200_then_503_when_the_member_leaves_the_primary_component(
    server: tuple[str, dict[str, str]],
) -> None:
    url, state = server
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert answer.status == 200 and answer.read() == b"Synced, Primary\n"
    state["wsrep_cluster_status"] = "non-Primary"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 503
    assert b"non-Primary" in refused.value.read()
    # haproxy's default check is OPTIONS: answered the same way
    ask = urllib.request.Request(url, method="OPTIONS")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(ask, timeout=5)
    assert refused.value.code == 503
