"""The workload network rules (DCN7xx) and the deployed mechanism (DCN405): each fires at
the exact file:line, on a copy of tests/fixtures/workload-networks.yaml, and fine
variations of it pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.errors import Severity
from dcn.model.loader import load_yaml
from dcn.validate import RULES, ValidationResult, validate

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "workload-networks.yaml"
BASE = FIXTURE.read_text()
#: the fixture's own findings: one controller, and the seed's warning at both sites
#: that tunnel for the tenant network
BASE_RULES = ["DCN301", "DCN401", "DCN401"]
#: marks the line a finding must name
HERE = "  # HERE"

DCN0_SEGMENT = "      - site: dcn0\n        network_type: vlan\n        vlan: 100\n"
DCN2_SDN = "    sdn:\n      mechanism: ovn\n      tunnelling: true\n"
POOL = "          - {start: 198.18.65.10, end: 198.18.65.200}"
OVERLAY = "  - name: overlay\n"


def _second(segment: str) -> tuple[str, str]:
    """An edit adding a second provider network, with `segment`, before the tenant one."""
    return OVERLAY, f"  - name: second\n    kind: provider\n    segments:\n{segment}{OVERLAY}"


# (rule, [(text in the fixture, its replacement)]): the replacement marks its line HERE
CASES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "DCN001",
        [
            (
                "        subnet: 198.18.64.0/24\n",
                f"        subnet: 198.18.64.0/24\n        vlann: 3{HERE}\n",
            )
        ],
    ),
    (
        "DCN001",
        [
            (
                "        vlan: 100\n        subnet: 198.18.64.0/24",
                f"        vlan: 4095{HERE}\n        subnet: 198.18.64.0/24",
            )
        ],
    ),
    ("DCN001", [("      - site: dcn1\n", f"      - site: dcn1{HERE}\n        vlan: 7\n")]),
    ("DCN001", [("    kind: tenant\n", f"    kind: overlay{HERE}\n")]),
    ("DCN001", [("    kind: provider\n", f"    kind: provider\n    cidr: 10.1.0.0/24{HERE}\n")]),
    ("DCN001", [("      - site: dcn0\n", f"      - site: d{'a' * 58}{HERE}\n")]),
    ("DCN001", [("        physnet: dcn2-uplink\n", f"        physnet: 'dcn2:uplink'{HERE}\n")]),
    (
        "DCN405",
        [("    sdn:\n      mechanism: ovn\n", f"    sdn:\n      mechanism: openvswitch{HERE}\n")],
    ),
    (
        "DCN405",
        [
            (
                "    kind: edge\n    instance_metadata: {config_drive: true}\n",
                f"    kind: edge\n    sdn: {{mechanism: provider}}{HERE}\n"
                "    instance_metadata: {config_drive: true}\n",
            )
        ],
    ),
    ("DCN701", [(OVERLAY, f"  - name: edge-provider{HERE}\n")]),
    ("DCN702", [("      - site: dcn2\n", f"      - site: dcn9{HERE}\n")]),
    ("DCN702", [("    sites: [dcn1, dcn2]\n", f"    sites: [dcn1, central]{HERE}\n")]),
    ("DCN703", [("        physnet: dcn2-uplink\n", f"        physnet: physnet-dcn0{HERE}\n")]),
    (
        "DCN703",
        [
            ("      - site: dcn0\n", "      - site: dcn0\n        physnet: physnet-dcn1\n"),
            ("      - site: dcn1\n", f"      - site: dcn1{HERE}\n"),
        ],
    ),
    (
        "DCN704",
        [
            (
                OVERLAY,
                f"      - site: dcn0{HERE}\n        network_type: flat\n"
                f"        subnet: 198.18.67.0/24\n{OVERLAY}",
            )
        ],
    ),
    (
        "DCN705",
        [
            _second(
                f"      - site: dcn0\n        network_type: vlan\n        vlan: 100{HERE}\n"
                "        subnet: 198.18.70.0/24\n"
            )
        ],
    ),
    (
        "DCN705",
        [
            _second(
                f"      - site: dcn1\n        network_type: flat{HERE}\n"
                "        subnet: 198.18.71.0/24\n"
            )
        ],
    ),
    ("DCN706", [("        subnet: 198.18.66.0/24\n", f"        subnet: 198.18.64.128/25{HERE}\n")]),
    (
        "DCN706",
        [
            _second(
                "      - site: dcn0\n        network_type: flat\n"
                f"        subnet: 198.18.64.128/25{HERE}\n"
            )
        ],
    ),
    (
        "DCN706",
        [
            ("        subnet: 198.18.64.0/24\n", "        subnet: 198.18.17.0/24\n"),
            (
                "internal_api: {cidr: 198.18.17.0/24, gateway: 198.18.17.1}\n",
                f"internal_api: {{cidr: 198.18.17.0/24, gateway: 198.18.17.1}}{HERE}\n",
            ),
        ],
    ),
    (
        "DCN706",
        [
            ("        subnet: 198.18.66.0/24\n", "        subnet: 198.18.48.0/26\n"),
            (
                "external:     {cidr: 198.18.48.0/24, gateway: 198.18.48.1}\n",
                f"external:     {{cidr: 198.18.48.0/24, gateway: 198.18.48.1}}{HERE}\n",
            ),
        ],
    ),
    ("DCN707", [("        gateway: 198.18.65.254\n", f"        gateway: 198.18.99.1{HERE}\n")]),
    ("DCN707", [("        gateway: 198.18.65.254\n", f"        gateway: 198.18.65.20{HERE}\n")]),
    ("DCN707", [("        gateway: 198.18.65.254\n", f"        gateway: 198.18.65.255{HERE}\n")]),
    (
        "DCN707",
        [("    cidr: 10.77.0.0/24\n", f"    cidr: 10.77.0.0/24\n    gateway: 10.77.0.0{HERE}\n")],
    ),
    ("DCN707", [("        gateway: 198.18.65.254\n", f"        gateway: 'fd00::1'{HERE}\n")]),
    (
        "DCN707",
        [
            (
                "        subnet: 198.18.66.0/24\n",
                "        subnet: 198.18.66.0/24\n"
                "        allocation_pools:\n"
                f"          - {{start: 198.18.66.1, end: 198.18.66.9}}{HERE}\n",
            ),
        ],
    ),
    ("DCN708", [(POOL, f"          - {{start: 198.18.65.10, end: 198.18.66.200}}{HERE}")]),
    ("DCN708", [(POOL, f"          - {{start: 198.18.65.200, end: 198.18.65.10}}{HERE}")]),
    ("DCN708", [(POOL, f"          - {{start: 198.18.65.0, end: 198.18.65.9}}{HERE}")]),
    ("DCN708", [(POOL, f"{POOL}\n          - {{start: 198.18.65.100, end: 198.18.65.210}}{HERE}")]),
    ("DCN708", [("    cidr: 10.77.0.0/24\n", f"    cidr: 10.77.0.0/31{HERE}\n")]),
    ("DCN709", [("    sdn: {tunnelling: true}\n", f"    sdn: {{tunnelling: false}}{HERE}\n")]),
    ("DCN709", [(DCN2_SDN, f"    sdn:{HERE}\n      mechanism: ovn\n")]),
    (
        "DCN710",
        [
            (DCN0_SEGMENT + "        subnet: 198.18.64.0/24\n", ""),
            ("  - name: dcn0\n", f"  - name: dcn0{HERE}\n"),
        ],
    ),
]


def _validate(tmp_path: Path, edits: list[tuple[str, str]]) -> tuple[Path, ValidationResult]:
    text = BASE
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    f = tmp_path / "dcn.yaml"
    f.write_text(text)
    return f, validate(load_yaml(f))


def test_the_fixture_is_valid_with_the_designed_warnings() -> None:
    result = validate(load_yaml(FIXTURE))
    assert result.ok
    assert [f.rule for f in result.findings] == BASE_RULES


@pytest.mark.parametrize(("rule", "edits"), CASES, ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_rule_fires_at_its_line(tmp_path: Path, rule: str, edits: list[tuple[str, str]]) -> None:
    f, result = _validate(tmp_path, edits)
    line = next(n for n, x in enumerate(f.read_text().splitlines(), 1) if x.endswith(HERE))
    found = [x for x in result.findings if x.rule == rule]
    assert [(x.location.file, x.location.line) for x in found] == [(str(f), line)], [
        x.as_dict() for x in result.findings
    ]
    assert found[0].severity == RULES[rule][1]
    assert found[0].message and found[0].fix
    assert "Traceback" not in found[0].message and "provider." not in found[0].location.field


def test_each_new_rule_has_a_case() -> None:
    new = {r for r in RULES if r.startswith("DCN7")} | {"DCN405"}
    assert new <= {c[0] for c in CASES}


def test_a_mechanism_other_than_ovn_is_an_error_naming_ovn_and_how(tmp_path: Path) -> None:
    """Only ML2/OVN is deployed: another mechanism would bind no workload port."""
    assert RULES["DCN405"][1] is Severity.ERROR
    example = (ROOT / "examples" / "dcn-basic.yaml").read_text()
    f = tmp_path / "dcn.yaml"
    f.write_text(
        example.replace("sdn: {provider_interface: provider}", "sdn: {mechanism: provider}", 1)
    )
    result = validate(load_yaml(f))
    (found,) = [x for x in result.findings if x.rule == "DCN405"]
    assert "'provider'" in found.message and "OVN" in found.message
    assert "sdn.mechanism: ovn" in found.fix
    assert found.location.field == "sites[1].sdn.mechanism"
    assert not result.ok


def test_schema_paths_leave_out_the_kind(tmp_path: Path) -> None:
    """pydantic puts a workload network's kind in an error's path: the finding shows the
    path as written, and suggests the field of that kind."""
    edit = (
        "        subnet: 198.18.64.0/24\n",
        "        subnet: 198.18.64.0/24\n        vlann: 3\n",
    )
    _, result = _validate(tmp_path, [edit])
    (found,) = result.findings
    assert found.location.field == "workload_networks[0].segments[0].vlann"
    assert "did you mean 'vlan'?" in found.message and "physnet" in found.fix


def test_a_missing_kind_says_which_kinds(tmp_path: Path) -> None:
    _, result = _validate(tmp_path, [("    kind: tenant\n", "")])
    (found,) = result.findings
    assert found.rule == "DCN001" and "provider or tenant" in found.message
    assert found.location.field == "workload_networks[1]"


FINE = [
    # IPv6 segment: no leaf of its family overlaps
    [("        subnet: 198.18.66.0/24\n", '        subnet: "fd00:77:1::/64"\n')],
    # a flat and a vlan segment on one physnet (two networks)
    [_second("      - site: dcn0\n        network_type: flat\n        subnet: 198.18.70.0/24\n")],
    # one VLAN id on two physnets, gateway at the top of the subnet, pools around it
    [
        _second(
            "      - site: dcn1\n        network_type: vlan\n        vlan: 100\n"
            "        subnet: 198.18.72.0/29\n        gateway: 198.18.72.6\n"
            "        allocation_pools:\n          - {start: 198.18.72.1, end: 198.18.72.2}\n"
            "          - {start: 198.18.72.3, end: 198.18.72.5}\n"
        )
    ],
    # the smallest subnet: a /30
    [("    cidr: 10.77.0.0/24\n", "    cidr: 10.77.0.0/30\n")],
    # tenant cidrs are overlay addresses: not compared with leaves or segments
    [("    cidr: 10.77.0.0/24\n", "    cidr: 198.18.64.0/24\n")],
    # a site in a tenant network only is reached
    [
        (
            "      - site: dcn2\n        physnet: dcn2-uplink\n        network_type: vlan\n"
            "        vlan: 100\n        subnet: 198.18.66.0/24\n",
            "",
        )
    ],
]


@pytest.mark.parametrize("edits", FINE, ids=[str(k) for k in range(len(FINE))])
def test_fine_variations_pass(tmp_path: Path, edits: list[tuple[str, str]]) -> None:
    _, result = _validate(tmp_path, edits)
    rules = [x.rule for x in result.findings]
    assert rules == BASE_RULES, [x.as_dict() for x in result.findings]


def test_no_workload_networks_no_finding_about_them() -> None:
    """Today's descriptions (no section) get no DCN7xx: the example keeps its findings."""
    result = validate(load_yaml(ROOT / "examples" / "dcn-basic.yaml"))
    assert not [x for x in result.findings if x.rule.startswith("DCN7")]


def test_segments_of_a_description_with_an_imported_control_plane(tmp_path: Path) -> None:
    """With control_plane_export (no control-plane site), segments name edge sites."""
    (tmp_path / "central-export.yaml").write_text("parameter_defaults: {}\n")
    start = BASE.index("  - name: central\n")
    end = BASE.index("  - name: dcn0\n")
    text = BASE[:start] + BASE[end:]
    text = text.replace(
        "domain: localdomain\n", "domain: localdomain\ncontrol_plane_export: central-export.yaml\n"
    )
    f = tmp_path / "dcn.yaml"
    f.write_text(text)
    result = validate(load_yaml(f))
    assert [x.rule for x in result.findings] == ["DCN401", "DCN401"]
