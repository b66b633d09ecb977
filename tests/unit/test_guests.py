"""What a guest's checks conclude: the report's verdict and the data-plane claims."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dcn.drill import CLAIMS
from dcn.drill.dataplane import DataPlane
from dcn.workloads import GuestReport


def report(**changes: object) -> GuestReport:
    base: dict[str, object] = {
        "server": "dcn-smoke-dcn1",
        "site": "dcn1",
        "host": "dcn1-distributedcompute-0",
        "fixed_ip": "198.18.65.10",
        "dhcp_ip": "198.18.65.10",
        "dhcp_seconds": 0.1,
        "gateway": "198.18.65.1",
        "gateway_replies": 3,
        "metadata": "ok",
        "config_drive": False,
    }
    return GuestReport(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "ok"),
    [
        ({}, True),
        ({"metadata": "n/a", "config_drive": True}, True),
        ({"dhcp_ip": None}, False),
        ({"dhcp_ip": "198.18.65.11"}, False),
        ({"gateway_replies": 0}, False),
        ({"gateway": None, "gateway_replies": 0}, True),
        ({"metadata": "failed: timed out"}, False),
    ],
)
def test_a_guest_is_ok_only_with_its_address_its_gateway_and_its_metadata(
    changes: dict[str, object], ok: bool
) -> None:
    r = report(**changes)
    assert r.ok is ok
    assert r.as_dict()["ok"] is ok


class FakeDrill:
    def __init__(self, figures: dict[str, float | None]) -> None:
        self.report = SimpleNamespace(figures=figures)
        self.claims: dict[str, tuple[bool | None, str]] = {}

    def claim(self, key: str, held: bool | None, evidence: str) -> None:
        assert key in CLAIMS
        self.claims[key] = (held, evidence)


def plane(figures: dict[str, float | None], metadata_route: bool) -> tuple[DataPlane, FakeDrill]:
    d = FakeDrill(figures)
    p = DataPlane(d, "dcn1")  # type: ignore[arg-type]
    p.metadata_route = metadata_route
    return p, d


def test_site_local_traffic_holds_only_with_nothing_lost() -> None:
    sent = {"gateway_pings_sent": 100, "peer_pings_sent": 100}
    p, d = plane({**sent, "gateway_pings_lost": 0, "peer_pings_lost": 0}, False)
    p.claims()
    assert d.claims["edge-data-plane"][0] is True
    assert "metadata-route" not in d.claims
    p, d = plane({**sent, "gateway_pings_lost": 0, "peer_pings_lost": 2}, False)
    p.claims()
    held, evidence = d.claims["edge-data-plane"]
    assert held is False and "2 of 100" in evidence


def test_the_metadata_route_depends_on_the_control_plane() -> None:
    base = {"gateway_pings_lost": None, "peer_pings_lost": None}
    p, d = plane({**base, "metadata_during_cut": 0.0, "metadata_back_after_heal": 3.0}, True)
    p.claims()
    assert d.claims["metadata-route"][0] is True
    assert "edge-data-plane" not in d.claims  # no pings measured: no verdict
    p, d = plane({**base, "metadata_during_cut": 0.0, "metadata_back_after_heal": None}, True)
    p.claims()
    assert d.claims["metadata-route"][0] is False
