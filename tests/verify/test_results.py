"""Per-area counts from subunit2csv output: a captured run and made-up rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.verify.areas import AREAS
from dcn.verify.results import display_name, parse_csv

#: captured: `tempest run --subunit` of the default selection (tempest 47.0.0) against a
#: keystone URL that refuses connections, then `subunit2csv`: every class fails in its
#: setup or is skipped by tempest.conf (IPv6, cinder, image caching ...)
REFUSED = Path(__file__).with_name("tempest-refused.csv")
HEADER = "test,status,start_time,stop_time\r\n"


def row(test: str, status: str) -> str:
    return f"{test},{status},2026-11-28 02:16:04+00:00,2026-11-28 02:16:05+00:00\r\n"


def test_captured_run() -> None:
    results = parse_csv(REFUSED.read_text())
    assert list(results.areas) == list(AREAS)
    got = {a: (r.passed, r.failed, r.skipped) for a, r in results.areas.items()}
    assert got == {
        "compute-admin": (0, 22, 0),
        "identity": (0, 35, 1),
        "image": (0, 26, 5),
        "network": (0, 6, 11),
        "compute-servers": (0, 7, 1),
        "other": (0, 0, 0),
    }
    total = results.total
    assert (total.passed, total.failed, total.skipped) == (0, 96, 18)
    assert results.ran == 114
    assert (
        "setUpClass (tempest.serial_tests.api.compute.admin.test_aggregates."
        "AggregatesAdminTestJSON)" in results.areas["compute-admin"].failed_tests
    )
    assert results.areas["network"].failed_tests == sorted(results.areas["network"].failed_tests)


def test_statuses_and_names() -> None:
    text = HEADER + "".join(
        [
            row('"tempest.api.network.test_ports.PortsTestJSON.test_a[id-1,smoke]"', "success"),
            row("tempest.api.network.test_ports.PortsTestJSON.test_b[id-2]", "fail"),
            row("tempest.api.network.test_ports.PortsTestJSON.test_c[id-3]", "skip"),
            row("tempest.api.identity.v3.test_tokens.TokensV3Test.test_d[id-4]", "xfail"),
            row("tempest.api.identity.v3.test_tokens.TokensV3Test.test_e[id-5]", "uxsuccess"),
            row("tempest.api.image.v2.test_images.ListImagesTest.test_f[id-6]", "error"),
            row("tempest.api.image.v2.test_images.ListImagesTest.test_g[id-7]", "inprogress"),
            row("tempest.scenario.test_x.Y.test_h[id-8]", "success"),
            row("tempest.api.network.test_ports.PortsTestJSON.test_i[id-9]", "exists"),
        ]
    )
    results = parse_csv(text)
    network = results.areas["network"]
    assert (network.passed, network.failed, network.skipped) == (1, 1, 1)
    assert network.failed_tests == ["tempest.api.network.test_ports.PortsTestJSON.test_b"]
    identity = results.areas["identity"]
    assert (identity.passed, identity.failed) == (1, 1)
    assert results.areas["image"].failed == 2
    assert results.areas["other"].passed == 1
    assert results.ran == 9 - 1  # "exists" (a listing's row) is no result


def test_empty_and_foreign_input() -> None:
    assert parse_csv("").ran == 0
    assert parse_csv(HEADER).ran == 0
    with pytest.raises(ValueError):
        parse_csv("name,result\nx,success\n")


def test_display_name() -> None:
    assert display_name("tempest.a.B.test_c[id-1,smoke]") == "tempest.a.B.test_c"
    assert display_name("setUpClass (tempest.a.B)") == "setUpClass (tempest.a.B)"
