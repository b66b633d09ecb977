"""The hardening rules (issue 8): each fires at the right file:line, and fine values pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.model.loader import load_yaml
from dcn.validate import RULES, validate
from dcn.validate.overrides import credential_pattern

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "examples" / "dcn-basic.yaml").read_text()
EDGE_ROLES = "DistributedCompute: {count: 1}\n      DistributedComputeScaleOut: {count: 0}"
CENTRAL_LEAF = "ctlplane:     {cidr: 198.18.0.0/24,  gateway: 198.18.0.1}"
#: what the unchanged example gives (a fine value adds nothing to it)
EXAMPLE_RULES = [x.rule for x in validate(load_yaml(ROOT / "examples" / "dcn-basic.yaml")).findings]


def _nodes(*lines: str) -> str:
    return "DistributedCompute:\n        nodes:\n" + "".join(f"          - {x}\n" for x in lines)


def _overrides(body: str) -> str:
    return f"kind: edge\n    config_overrides:\n{body}    roles"


# (rule, text replaced in the example, replacement, text on the line the finding names)
CASES = [
    ("DCN105", EDGE_ROLES, _nodes("{hostname: a1, mac: '01:00:5e:00:00:01'}"), "01:00:5e"),
    ("DCN105", EDGE_ROLES, _nodes("{hostname: a1, mac: 'ff:ff:ff:ff:ff:ff'}"), "ff:ff"),
    ("DCN105", EDGE_ROLES, _nodes("{hostname: a1, mac: '00:00:00:00:00:00'}"), "00:00"),
    (
        "DCN106",
        "kind: edge\n    roles",
        "kind: edge\n    availability_zone: 'az:1'\n    roles",
        "az:1",
    ),
    (
        "DCN106",
        "kind: edge\n    roles",
        "kind: edge\n    availability_zone: '  '\n    roles",
        "'  '",
    ),
    ("DCN107", EDGE_ROLES, _nodes("{hostname: Compute_1}"), "Compute_1"),
    (
        "DCN107",
        EDGE_ROLES,
        "DistributedCompute: {count: 2, hostname_format: '../x-%index%'}",
        "../x",
    ),
    (
        "DCN107",
        EDGE_ROLES,
        "DistributedCompute: {count: 2, hostname_format: '/tmp/%index%'}",
        "/tmp",
    ),
    ("DCN107", EDGE_ROLES, "DistributedCompute: {count: 2, hostname_format: 'A-%index%'}", "A-%"),
    (
        "DCN107",
        EDGE_ROLES,
        f"DistributedCompute: {{count: 2, hostname_format: '{'a' * 63}%index%'}}",
        "aaaa",
    ),
    ("DCN108", "domain: localdomain", "domain: 'bad_domain.com'", "bad_domain"),
    ("DCN108", "domain: localdomain", "domain: 'a..b'", "a..b"),
    ("DCN109", "domain: localdomain", 'domain: "local\\ndomain"', "domain:"),
    (
        "DCN109",
        "kind: edge\n    roles",
        'kind: edge\n    availability_zone: "a\\rb"\n    roles',
        "a\\rb",
    ),
    (
        "DCN110",
        "kind: edge\n    roles",
        "kind: edge\n    availability_zone: '@@dcn-secret:X@@'\n    roles",
        "@@",
    ),
    (
        "DCN211",
        EDGE_ROLES,
        _nodes("{hostname: a1, addresses: {ctlplane: 198.18.2.1}}"),
        "198.18.2.1",
    ),
    (
        "DCN211",
        EDGE_ROLES,
        _nodes("{hostname: a1, addresses: {ctlplane: 198.18.2.0}}"),
        "198.18.2.0",
    ),
    ("DCN211", EDGE_ROLES, _nodes("{hostname: a1, addresses: {ctlplane: 198.18.2.255}}"), "2.255"),
    (
        "DCN212",
        "{cidr: 198.18.17.0/24, gateway: 198.18.17.1}",
        "{cidr: 198.18.17.0/24, routes: [{destination: 198.18.16.0/24, nexthop: 198.18.99.1}]}",
        "198.18.99.1",
    ),
    (
        "DCN302",
        "ha_size: 1              # a lab; production wants 3 (see rule DCN301)\n    roles:\n"
        "      Controller: {count: 1}",
        "ha_size: 2\n    roles:\n      Controller: {count: 2}",
        "ha_size: 2",
    ),
    (
        "DCN601",
        "kind: edge\n    roles",
        _overrides("      nova.cfg: {DEFAULT: {debug: true}}\n"),
        "nova.cfg",
    ),
    (
        "DCN602",
        "kind: edge\n    roles",
        _overrides("      nova.conf: {'a]b': {debug: true}}\n"),
        "a]b",
    ),
    (
        "DCN602",
        "kind: edge\n    roles",
        _overrides("      nova.conf: {DEFAULT: {'a=b': 1}}\n"),
        "a=b",
    ),
    (
        "DCN602",
        "kind: edge\n    roles",
        _overrides("      nova.conf: {DEFAULT: {'a b': 1}}\n"),
        "a b",
    ),
    (
        "DCN602",
        "kind: edge\n    roles",
        _overrides("      nova.conf: {DEFAULT: {x: {y: 1}}}\n"),
        "x:",
    ),
    (
        "DCN603",
        "kind: edge\n    roles",
        _overrides("      nova.conf:\n        database:\n          connection: sqlite://\n"),
        "connection",
    ),
    (
        "DCN603",
        "kind: edge\n    roles",
        _overrides("      nova.conf: {DEFAULT: {transport_url: 'rabbit://x'}}\n"),
        "transport_url",
    ),
    (
        "DCN109",
        "kind: edge\n    roles",
        _overrides('      nova.conf: {DEFAULT: {debug: "true\\r[database]"}}\n'),
        "debug",
    ),
    (
        "DCN109",
        "kind: edge\n    roles",
        _overrides('      nova.conf: {"DEFAULT]\\n[database": {debug: "true"}}\n'),
        "DEFAULT]",
    ),
    (
        "DCN110",
        "kind: edge\n    roles",
        _overrides("      nova.conf: {DEFAULT: {x: '@@dcn-secret:MysqlRootPassword@@'}}\n"),
        "@@dcn-secret",
    ),
    (
        "DCN008",
        "domain: localdomain\n",
        "domain: localdomain\ncontrol_plane_export: missing-export.yaml\n",
        "missing-export",
    ),
]


@pytest.mark.parametrize(
    ("rule", "old", "new", "on_line"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_fires_at_its_line(
    tmp_path: Path, rule: str, old: str, new: str, on_line: str
) -> None:
    assert old in EXAMPLE
    f = tmp_path / "bad.yaml"
    f.write_text(EXAMPLE.replace(old, new, 1))
    findings = validate(load_yaml(f)).findings
    found = [x for x in findings if x.rule == rule]
    assert found, [x.as_dict() for x in findings]
    lines = f.read_text().splitlines()
    at = [x for x in found if x.location.line and on_line in lines[x.location.line - 1]]
    assert at, [x.as_dict() for x in found]
    assert at[0].severity == RULES[rule][1] and at[0].location.file == str(f)
    assert at[0].message and at[0].fix


def test_generated_name_is_named_in_the_message(tmp_path: Path) -> None:
    f = tmp_path / "dcn.yaml"
    f.write_text(
        EXAMPLE.replace(
            EDGE_ROLES, "DistributedCompute: {count: 3, hostname_format: '../%stackname%-%index%'}"
        )
    )
    (x,) = [x for x in validate(load_yaml(f)).findings if x.rule == "DCN107"]
    assert "'../dcn1-0'" in x.message and "hostname_format" in x.message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (EDGE_ROLES, _nodes("{hostname: a1, mac: '52:54:00:00:00:01'}")),
        ("kind: edge\n    roles", "kind: edge\n    availability_zone: 'Edge Zone 1'\n    roles"),
        ("domain: localdomain", "domain: example.com"),
        (EDGE_ROLES, _nodes("{hostname: a1, addresses: {ctlplane: 198.18.2.10}}")),
        (
            "{cidr: 198.18.17.0/24, gateway: 198.18.17.1}",
            "{cidr: 198.18.17.0/24, routes: [{destination: 198.18.16.0/24, nexthop: 198.18.17.1}]}",
        ),
        (
            "kind: edge\n    roles",
            _overrides('      nova.conf: {DEFAULT: {debug: true, x: "a\\tb"}}\n'),
        ),
        (
            "kind: edge\n    roles",
            _overrides("      rabbitmq.conf: {any: {log.console.level: debug}}\n"),
        ),
        (
            "kind: edge\n    roles",
            _overrides("      my.cnf: {mysqld: {max_connections: [1, 2]}}\n"),
        ),
    ],
)
def test_fine_values_pass(tmp_path: Path, old: str, new: str) -> None:
    assert old in EXAMPLE
    f = tmp_path / "dcn.yaml"
    f.write_text(EXAMPLE.replace(old, new, 1))
    result = validate(load_yaml(f))
    assert [x.rule for x in result.findings] == EXAMPLE_RULES, [
        x.as_dict() for x in result.findings
    ]


def test_existing_export_passes(tmp_path: Path) -> None:
    (tmp_path / "central-export.yaml").write_text("parameter_defaults: {}\n")
    f = tmp_path / "dcn.yaml"
    f.write_text(
        EXAMPLE.replace(
            "domain: localdomain\n",
            "domain: localdomain\ncontrol_plane_export: central-export.yaml\n",
        )
    )
    assert "DCN008" not in [x.rule for x in validate(load_yaml(f)).findings]


@pytest.mark.parametrize(
    ("option", "refused"),
    [
        ("password", True),
        ("admin_password", True),
        ("memcache_secret_key", True),
        ("slave_connection", True),
        ("connection", True),
        ("transport_url", True),
        ("www_authenticate_uri", True),
        ("Auth_URL", True),
        ("username", True),
        ("debug", False),
        ("cpu_allocation_ratio", False),
        ("connection_recycle_time", False),
    ],
)
def test_credential_options_are_one_list(option: str, refused: bool) -> None:
    assert (credential_pattern(option) is not None) is refused


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("config_drive: true}", 'config_drive: "yes"}', "config_drive"),
        (
            "DistributedCompute: {count: 1}\n    networks",
            'DistributedCompute: {count: "1"}\n    networks',
            "count",
        ),
        ("ha_size: 1 ", "ha_size: 1.0 ", "ha_size"),
    ],
)
def test_schema_reads_types_strictly(tmp_path: Path, old: str, new: str, field: str) -> None:
    assert old in EXAMPLE
    f = tmp_path / "dcn.yaml"
    f.write_text(EXAMPLE.replace(old, new, 1))
    result = validate(load_yaml(f))
    assert [x.rule for x in result.errors] == ["DCN001"]
    assert result.errors[0].location.field.endswith(field)
