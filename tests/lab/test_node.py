"""A lab node's private directories, boot script and sshd configuration (pure parts).

Nothing here starts sshd or enters a namespace: the functions return text, and the
tests read it.
"""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath

import pytest

from dcn.lab import topology
from dcn.lab.node import SSHD, boot_script, private_dirs, sshd_config
from dcn.lab.topology import LabNode, LabTopology
from dcn.plan.types import NodePlan, StackPlan
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
BASIC = ROOT / "examples" / "dcn-basic.yaml"
#: directories below which a node's first level is its own (see dcn.lab.node)
ROOTS = ("/etc", "/var/lib", "/run")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> list[StackPlan]:
    ws = Workspace(BASIC, state_dir=tmp_path_factory.mktemp("state"))
    return [r.plan for r in ws.plan(record=False)]


@pytest.fixture(scope="module")
def topo(plans: list[StackPlan]) -> LabTopology:
    return topology.build("lab", plans)


@pytest.fixture(scope="module")
def controller(plans: list[StackPlan]) -> NodePlan:
    cp = next(p for p in plans if p.kind == "control-plane")
    return next(n for n in cp.nodes if n.role == "Controller")


@pytest.fixture(scope="module")
def compute(plans: list[StackPlan]) -> NodePlan:
    edge = next(p for p in plans if p.kind == "edge")
    return edge.nodes[0]


def named_paths(node: NodePlan) -> list[tuple[str, str]]:
    """(kind, path) of everything the node's plan places on the node."""
    return [("file", p) for p in node.files] + [("dir", d.path) for u in node.units for d in u.dirs]


def covered(path: str, dirs: list[str]) -> bool:
    p = PurePosixPath(path)
    return any(p == PurePosixPath(d) or p.is_relative_to(d) for d in dirs)


# -- private_dirs --------------------------------------------------------------------


def test_controller_private_dirs_hold_its_services(controller: NodePlan) -> None:
    dirs = private_dirs(controller)
    for expected in ("/etc/nova", "/etc/keystone", "/etc/dcn", "/var/log", "/var/lib/mysql"):
        assert expected in dirs, f"{expected} not private: {dirs}"


def test_private_dirs_never_hide_etc_itself_or_the_hosts_file(
    controller: NodePlan, compute: NodePlan
) -> None:
    for node in (controller, compute):
        dirs = private_dirs(node)
        assert "/etc" not in dirs and "/etc/hosts" not in dirs
        assert not {"/", "/var", "/var/lib", "/run", "/usr"} & set(dirs)
        assert dirs == sorted(set(dirs))


def test_every_planned_path_under_a_private_root_is_private(
    controller: NodePlan, compute: NodePlan
) -> None:
    """Whatever a node writes below /etc, /var/lib or /run lands in its own directory
    (a file or directory left out would be written to the machine's, shared by all)."""
    for node in (controller, compute):
        dirs = private_dirs(node)
        missing = [
            (kind, path)
            for kind, path in named_paths(node)
            if path != "/etc/hosts"
            and any(PurePosixPath(path).is_relative_to(r) for r in ROOTS)
            and not covered(path, dirs)
        ]
        assert not missing, f"{node.hostname}: not private: {missing}"


def test_private_dirs_are_first_level_below_their_root(controller: NodePlan) -> None:
    for d in private_dirs(controller):
        p = PurePosixPath(d)
        if d == "/var/log":
            continue
        parents = [r for r in ROOTS if p.parent == PurePosixPath(r)]
        assert parents, f"{d} is not directly below one of {ROOTS}"


def test_compute_private_dirs(compute: NodePlan) -> None:
    dirs = private_dirs(compute)
    assert {"/etc/nova", "/var/lib/nova", "/etc/dcn", "/var/lib/dcn", "/run/dcn"} <= set(dirs)
    assert "/etc/keystone" not in dirs and "/var/lib/mysql" not in dirs


# -- boot script ---------------------------------------------------------------------


def _lines(script: str) -> list[list[str]]:
    return [shlex.split(line) for line in script.splitlines() if line.strip()]


def test_boot_script_binds_each_dir_and_hosts_then_execs_sshd(
    topo: LabTopology, controller: NodePlan, tmp_path: Path
) -> None:
    node = topo.node(controller.hostname)
    node_dir = tmp_path / "nodes" / node.hostname
    dirs = private_dirs(controller)
    lines = _lines(boot_script(node, node_dir, dirs))

    assert lines[0] == ["set", "-e"]
    assert ["hostname", node.hostname] in lines
    mounts = [w for w in lines if w[:2] == ["mount", "--bind"]]
    targets = [w[3] for w in mounts]
    assert targets == [*dirs, "/etc/hosts"]
    for words in mounts:
        source, target = words[2], words[3]
        if target == "/etc/hosts":
            assert source == str(node_dir / "hosts")
        else:
            assert source == str(node_dir / "root" / target.lstrip("/"))
            made = lines.index(["mkdir", "-p", source, target])
            assert made < lines.index(words), f"{target} mounted before it exists"

    last = lines[-1]
    assert last[:2] == ["exec", SSHD]
    assert "-D" in last
    assert last[last.index("-f") + 1] == str(node_dir / "sshd_config")
    exec_lines = [w for w in lines if w and w[0] == "exec"]
    assert exec_lines == [last]


def test_boot_scripts_of_two_nodes_share_no_bind_source(
    topo: LabTopology, controller: NodePlan, compute: NodePlan, tmp_path: Path
) -> None:
    sources = []
    for plan in (controller, compute):
        node = topo.node(plan.hostname)
        script = boot_script(node, tmp_path / "nodes" / node.hostname, private_dirs(plan))
        sources.append({w[2] for w in _lines(script) if w[:2] == ["mount", "--bind"]})
    assert not sources[0] & sources[1]


def test_boot_script_quotes_odd_paths(topo: LabTopology, controller: NodePlan) -> None:
    node = topo.node(controller.hostname)
    node_dir = Path("/tmp/a lab dir; rm -rf x")
    lines = _lines(boot_script(node, node_dir, ["/etc/nova"]))
    assert ["mount", "--bind", str(node_dir / "root/etc/nova"), "/etc/nova"] in lines
    assert ["mount", "--bind", str(node_dir / "hosts"), "/etc/hosts"] in lines


# -- sshd ----------------------------------------------------------------------------


def _options(config: str) -> list[tuple[str, str]]:
    out = []
    for line in config.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.append((key.lower(), value.strip()))
    return out


def test_sshd_listens_only_on_the_node_address_without_passwords(
    topo: LabTopology, tmp_path: Path
) -> None:
    for node in topo.nodes:
        keys = tmp_path / "authorized_keys"
        opts = _options(sshd_config(node, tmp_path / node.hostname, keys))
        values = dict(opts)
        assert [v for k, v in opts if k == "listenaddress"] == [node.ssh_address]
        assert node.ssh_address not in ("0.0.0.0", "::", "")
        assert values["passwordauthentication"] == "no"
        assert values["kbdinteractiveauthentication"] == "no"
        assert values["permitrootlogin"] in ("prohibit-password", "without-password", "no")
        assert values["authorizedkeysfile"] == str(keys)
        assert values["hostkey"].startswith(str(tmp_path / node.hostname) + "/")
        assert values["pidfile"].startswith(str(tmp_path / node.hostname) + "/")
        assert len({k for k, _ in opts if k != "listenaddress"}) == len(opts) - 1


def test_ssh_address_is_the_ctlplane_address(topo: LabTopology, plans: list[StackPlan]) -> None:
    for plan in plans:
        for node in plan.nodes:
            lab: LabNode = topo.node(node.hostname)
            assert lab.ssh_address == node.addresses["ctlplane"]
            assert lab.netns == f"dcn-lab-{node.hostname}"
