"""tempest.conf rendering: every option dcn means to set, the flags and their reasons,
oslo.config quoting, the file's mode, and no password where people look."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import pytest

from dcn.errors import DcnError
from dcn.verify.config import FEATURE_FLAGS, NOVA_FILTERS, TempestInputs, render, sections
from dcn.verify.run import write_private

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cr$t-Pa55word-xyz"


def inputs(**changes: object) -> TempestInputs:
    values: dict[str, object] = {
        "auth_url": "http://198.18.16.10:5000/",
        "region": "regionOne",
        "admin_password": PASSWORD,
        "image_ref": "img-1",
        "image_ref_alt": "img-2",
        "flavor_ref": "flavor-tiny",
        "flavor_ref_alt": "flavor-small",
        "workspace": "/state/tempest/workspace",
        "network_extensions": ("router", "segment", "port-security", "router"),
        "fixed_network": "edge-provider",
    }
    values.update(changes)
    return TempestInputs(**values)  # type: ignore[arg-type]


def parsed(text: str) -> configparser.RawConfigParser:
    conf = configparser.RawConfigParser()
    conf.read_string(text)
    return conf


def test_every_option_is_rendered() -> None:
    conf = parsed(render(inputs()))
    expected = {
        ("auth", "use_dynamic_credentials"): "true",
        ("auth", "create_isolated_networks"): "true",
        ("auth", "admin_username"): "admin",
        ("auth", "admin_project_name"): "admin",
        ("auth", "admin_domain_name"): "Default",
        ("identity", "uri_v3"): "http://198.18.16.10:5000/v3",
        ("identity", "region"): "regionOne",
        ("identity", "v3_endpoint_type"): "internal",
        ("compute", "image_ref"): "img-1",
        ("compute", "image_ref_alt"): "img-2",
        ("compute", "flavor_ref"): "flavor-tiny",
        ("compute", "flavor_ref_alt"): "flavor-small",
        ("compute", "fixed_network_name"): "edge-provider",
        ("compute", "endpoint_type"): "internal",
        ("compute", "max_microversion"): "latest",
        ("compute-feature-enabled", "scheduler_enabled_filters"): ",".join(NOVA_FILTERS),
        ("image", "endpoint_type"): "internal",
        ("network", "endpoint_type"): "internal",
        ("placement", "endpoint_type"): "internal",
        ("network-feature-enabled", "api_extensions"): "port-security,router,segment",
        ("network-feature-enabled", "port_security"): "true",
        ("validation", "run_validation"): "false",
        ("service_available", "nova"): "true",
        ("service_available", "glance"): "true",
        ("service_available", "neutron"): "true",
        ("service_available", "cinder"): "false",
        ("service_available", "swift"): "false",
        ("DEFAULT", "log_dir"): "/state/tempest/workspace/logs",
        ("oslo_concurrency", "lock_path"): "/state/tempest/workspace/tempest_lock",
    }
    for (section, option), value in expected.items():
        assert conf.get(section, option) == value, (section, option)
    # the floating network stays unset: the lab has no external network
    assert not conf.has_option("network", "floating_network_name")
    assert not conf.has_option("network", "public_network_id")


def test_feature_flags_are_off_with_a_reason() -> None:
    conf = parsed(render(inputs()))
    for flag in FEATURE_FLAGS:
        assert flag.value is False
        assert conf.get(flag.section, flag.option) == "false"
        assert len(flag.reason) > 10
    options = [(f.section, f.option) for f in FEATURE_FLAGS]
    assert len(options) == len(set(options))
    for wanted in ("console_output", "snapshot", "live_migration", "vnc_console", "resize"):
        assert ("compute-feature-enabled", wanted) in options


def test_every_flag_is_in_the_docs() -> None:
    doc = (ROOT / "docs" / "operate.md").read_text()
    section = doc[doc.index("## Verify with Tempest") :]
    for flag in FEATURE_FLAGS:
        assert f"`{flag.option}`" in section or f"] {flag.option}`" in section, flag.option


def test_without_project_networks_or_fixed_network() -> None:
    conf = parsed(render(inputs(project_networks=False, fixed_network=None, network_extensions=())))
    assert conf.get("auth", "create_isolated_networks") == "false"
    assert not conf.has_option("compute", "fixed_network_name")
    assert conf.get("network-feature-enabled", "api_extensions") == ""
    assert conf.get("network-feature-enabled", "port_security") == "false"


def test_dollar_is_doubled_for_oslo_config() -> None:
    """oslo.config substitutes $name; a password holding $ must reach Tempest as is."""
    conf = parsed(render(inputs()))
    assert conf.get("auth", "admin_password") == PASSWORD.replace("$", "$$")


def test_password_only_in_its_option() -> None:
    text = render(inputs())
    escaped = PASSWORD.replace("$", "$$")
    lines = [line for line in text.splitlines() if escaped in line or PASSWORD in line]
    assert lines == [f"admin_password = {escaped}"]
    assert PASSWORD not in repr(inputs())
    assert PASSWORD not in str(sections(inputs())["auth"].keys())


@pytest.mark.parametrize("bad", ["net\nwork", "net\rwork", "a\u2028b", "x\x00"])
def test_a_line_break_from_the_cloud_is_refused_without_the_value(bad: str) -> None:
    with pytest.raises(DcnError) as err:
        render(inputs(fixed_network=bad))
    assert "fixed_network_name" in err.value.message
    assert bad not in err.value.message


def test_written_0600_from_the_start(tmp_path: Path) -> None:
    target = tmp_path / "workspace" / "etc" / "tempest.conf"
    write_private(target, render(inputs()))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # rewriting an existing file that someone widened leaves it 0600 again
    target.chmod(0o644)
    write_private(target, render(inputs()))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["tempest.conf"]  # no temp left
