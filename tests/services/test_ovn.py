"""OVN: the central databases, each compute's chassis settings, neutron's ML2/OVN."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
import yaml

from dcn.model.description import Deployment, Sdn
from dcn.services import ovs
from dcn.services.base import RenderContext
from dcn.services.catalog import service
from tests.services.conftest import CONTROLLER_IP, EDGE, EDGE_IP, parse_ini, with_site

WORKLOAD = Path(__file__).resolve().parents[1] / "fixtures" / "workload-networks.yaml"


@pytest.fixture(scope="module")
def workload_deployment() -> Deployment:
    return Deployment.model_validate(yaml.safe_load(WORKLOAD.read_text()))


def at_site(ctx: RenderContext, deployment: Deployment, site: str) -> RenderContext:
    return dataclasses.replace(ctx, deployment=deployment, site=deployment.site(site))


def test_ovn_databases_listen_on_the_internal_api_address(controller: RenderContext) -> None:
    text = service("ovn_central").files(controller)["/etc/default/ovn-central"].content
    for option in (
        f"--db-nb-addr={CONTROLLER_IP}",
        "--db-nb-port=6641",
        f"--db-sb-addr={CONTROLLER_IP}",
        "--db-sb-port=6642",
    ):
        assert option in text
    (proc,) = service("ovn_central").processes(controller)
    assert proc.packaged_unit == "ovn-central.service" and proc.group
    assert proc.health_port == 6642


def test_a_compute_is_a_chassis_named_as_novas_host(edge: RenderContext) -> None:
    settings = ovs.chassis_settings(edge)
    assert settings["system-id"] == EDGE == settings["hostname"]
    assert settings["ovn-remote"] == f"tcp:{CONTROLLER_IP}:6642"
    assert settings["ovn-encap-type"] == "geneve"
    assert settings["ovn-encap-ip"] == EDGE_IP
    # no workload network: the site's own physnet
    assert settings["ovn-bridge-mappings"] == "physnet-dcn0:br-provider"
    (step,) = service("ovs").steps(edge)
    assert step.phase == "post"
    assert 'external_ids:ovn-bridge-mappings="physnet-dcn0:br-provider"' in step.command


@pytest.mark.parametrize("datapath", ["auto", "system", "netdev"])
def test_the_chassis_step_sets_the_datapath(
    edge: RenderContext, datapath: str, tmp_path: Path
) -> None:
    """Run the step's shell for real with a stand-in ovs-vsctl: the values arrive as
    separate arguments and the datapath is the chosen one (auto: this machine has no
    openvswitch module, so userspace)."""
    ctx = with_site(edge, sdn=Sdn(datapath=datapath))
    (step,) = service("ovs").steps(ctx)
    fake = tmp_path / "ovs-vsctl"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    script = step.command[2].replace(ovs.VSCTL, str(fake))
    out = subprocess.run(
        [*step.command[:2], script, *step.command[3:]], capture_output=True, text=True
    ).stdout.splitlines()
    expected = "netdev" if datapath == "auto" else datapath
    assert f"datapath_type={expected}" in out
    assert f"external_ids:ovn-bridge-datapath-type={expected}" in out
    assert f'external_ids:ovn-remote="tcp:{CONTROLLER_IP}:6642"' in out


def test_a_compute_bridges_its_sites_segments(
    edge: RenderContext, workload_deployment: Deployment
) -> None:
    ctx = at_site(edge, workload_deployment, "dcn2")
    assert ovs.chassis_settings(ctx)["ovn-bridge-mappings"] == "dcn2-uplink:br-provider"


def test_ml2_allows_vlans_on_every_vlan_segments_physnet(
    controller: RenderContext, workload_deployment: Deployment
) -> None:
    ctx = at_site(controller, workload_deployment, "central")
    files = service("neutron_server").files(ctx)
    ml2 = parse_ini(files["/etc/neutron/plugins/ml2/ml2_conf.ini"].content)
    assert ml2["ml2_type_vlan"]["network_vlan_ranges"] == "dcn2-uplink,physnet-dcn0"


def test_the_sites_provider_nic_becomes_a_port_of_br_provider(edge: RenderContext) -> None:
    (without,) = service("ovs").steps(with_site(edge, sdn=Sdn()))
    assert "add-port" not in without.command
    ctx = with_site(edge, sdn=Sdn(provider_interface="ens4"))
    (step,) = service("ovs").steps(ctx)
    at = step.command.index("add-port")
    assert step.command[at - 2 : at + 3] == ("--", "--may-exist", "add-port", "br-provider", "ens4")
    # a value is an argument of the shell, never part of its script
    assert "ens4" not in step.command[2]


@pytest.mark.parametrize("name", ["", "a" * 16, "eth 0", "eth0;reboot", "-x"])
def test_a_provider_nic_name_is_a_kernel_interface_name(name: str) -> None:
    with pytest.raises(ValueError):
        Sdn(provider_interface=name)


def test_the_network_plan_lists_the_sites_segments(workload_deployment: Deployment) -> None:
    from dcn.network import provider_segments

    segs = provider_segments(workload_deployment, "dcn2")
    assert [s.physnet for s in segs] == ["dcn2-uplink"]
    assert all(s.gateway and s.cidr for s in segs)
    assert provider_segments(workload_deployment, "central") == ()
