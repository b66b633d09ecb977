"""Host variables of one node (`dcn.deploy.bundle.node_vars`) from real plans.

Secret values are fixed strings, one per name, so a test can find every value in the
serialized variables and tell which change moved which digest or marker.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from dcn.deploy import units
from dcn.deploy.bundle import STEP_MARKERS, levels, node_units, node_vars
from dcn.plan.types import (
    SECRET_PREFIX,
    NodePlan,
    ProcessSpec,
    StackPlan,
    StepSpec,
    UnitPlan,
    secret_ref,
)
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
BASIC = ROOT / "examples" / "dcn-basic.yaml"
RELEASE = "2024.2-test"
#: directories a node has before anything is deployed
SYSTEM_DIRS = {"/", "/etc", "/var", "/var/lib", "/var/log", "/run", "/usr", "/opt"}
CONTROL_PLANE_ONLY = ("MysqlRootPassword", "KeystoneFernetKey0", "KeystoneFernetKey1")


def value_of(name: str, salt: str = "") -> str:
    return f"{name}-value-{hashlib.sha256((name + salt).encode()).hexdigest()[:20]}"


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> list[StackPlan]:
    ws = Workspace(BASIC, state_dir=tmp_path_factory.mktemp("state"))
    return [r.plan for r in ws.plan(record=False)]


@pytest.fixture(scope="module")
def secrets(plans: list[StackPlan]) -> dict[str, str]:
    """A value for every secret any site references (an edge gets them all offered)."""
    return {name: value_of(name) for p in plans for name in p.secrets}


@pytest.fixture(scope="module")
def control_plane(plans: list[StackPlan]) -> StackPlan:
    return next(p for p in plans if p.kind == "control-plane")


@pytest.fixture(scope="module")
def edge(plans: list[StackPlan]) -> StackPlan:
    return next(p for p in plans if p.kind == "edge")


@pytest.fixture(scope="module")
def controller(control_plane: StackPlan) -> NodePlan:
    return next(n for n in control_plane.nodes if n.role == "Controller")


@pytest.fixture(scope="module")
def compute(edge: StackPlan) -> NodePlan:
    return next(n for n in edge.nodes if "nova_compute" in n.services)


@pytest.fixture(params=["controller", "compute"])
def node(request: pytest.FixtureRequest) -> NodePlan:
    return request.getfixturevalue(request.param)


def processes(v: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Process name -> what the playbook gets of it (unit, path, content, digest)."""
    return {p["name"]: p for unit in v for p in unit["processes"]}


def markers(v: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(u["service"], s["name"]): s["marker"] for u in v for s in u["pre"] + u["post"]}


def step_specs(node: NodePlan) -> dict[tuple[str, str], StepSpec]:
    return {(u.service, s.name): s for u in node.units for s in u.steps}


# -- secrets filled in ---------------------------------------------------------------


def test_no_secret_reference_is_left(node: NodePlan, secrets: dict[str, str]) -> None:
    v = node_units(node, secrets, RELEASE)
    for unit in v:
        for f in unit["files"]:
            assert SECRET_PREFIX not in f["content"], f"{f['path']} keeps a reference"
        for step in unit["pre"] + unit["post"]:
            assert SECRET_PREFIX not in json.dumps(step), f"step {step['name']}"
    assert SECRET_PREFIX not in json.dumps(v)


def test_every_referenced_secret_value_is_delivered(
    node: NodePlan, secrets: dict[str, str]
) -> None:
    v = node_units(node, secrets, RELEASE)
    contents = {f["path"]: f["content"] for u in v for f in u["files"]}
    assert set(contents) == set(node.files)
    for path, spec in node.files.items():
        for name in spec.secrets:
            assert secret_ref(name) in spec.content, f"{path} lists {name} it never uses"
            assert secrets[name] in contents[path], f"{path}: {name} not filled in"
        if not spec.secrets:
            assert contents[path] == spec.content


def test_edge_vars_hold_no_control_plane_only_secret(
    compute: NodePlan,
    edge: StackPlan,
    control_plane: StackPlan,
    secrets: dict[str, str],
) -> None:
    for name in CONTROL_PLANE_ONLY:
        assert name in control_plane.secrets and name not in edge.secrets
    text = json.dumps(node_vars(compute, secrets, RELEASE))
    for name in CONTROL_PLANE_ONLY:
        assert secrets[name] not in text, f"the edge compute's vars hold {name}"
    leaked = [n for n in secrets if n not in edge.secrets and secrets[n] in text]
    assert not leaked, f"secrets the edge does not reference: {leaked}"


# -- process digests -----------------------------------------------------------------


def test_process_digest_follows_its_units_delivered_files(
    node: NodePlan, secrets: dict[str, str]
) -> None:
    """For every secret: exactly the processes whose unit delivers a file using it get a
    new digest (and so a restart) when its value changes."""
    base = processes(node_units(node, secrets, RELEASE))
    assert base, f"{node.hostname} runs no process"
    users = {
        p.name: {s for path in u.files for s in node.files[path].secrets}
        for u in node.units
        for p in u.processes
    }
    node_secrets = {s for f in node.files.values() for s in f.secrets}
    for name in sorted(secrets):
        changed = {**secrets, name: value_of(name, "rotated")}
        after = processes(node_units(node, changed, RELEASE))
        assert set(after) == set(base)
        for proc, spec in base.items():
            moved = after[proc]["digest"] != spec["digest"]
            assert moved == (name in users[proc]), (
                f"{proc}: digest {'changed' if moved else 'kept'} when {name} changed"
            )
        if name not in node_secrets:
            assert node_vars(node, changed, RELEASE) == node_vars(node, secrets, RELEASE)


def test_nova_password_restarts_nova_but_not_an_unrelated_service(
    controller: NodePlan, secrets: dict[str, str]
) -> None:
    base = processes(node_units(controller, secrets, RELEASE))
    nova = processes(node_units(controller, {**secrets, "NovaPassword": "other"}, RELEASE))
    glance = processes(node_units(controller, {**secrets, "GlancePassword": "other"}, RELEASE))
    for proc in ("nova-api", "nova-conductor", "nova-scheduler"):
        assert nova[proc]["digest"] != base[proc]["digest"]
        assert glance[proc]["digest"] == base[proc]["digest"]
    assert glance["glance-api"]["digest"] != base["glance-api"]["digest"]
    assert nova["mariadb"]["digest"] == base["mariadb"]["digest"]


def test_process_units_render_their_declaration(node: NodePlan, secrets: dict) -> None:
    planned = {p.name: p for p in node.processes}
    on_node = {name: units.unit_name(spec) for name, spec in planned.items()}
    assert node_vars(node, secrets, RELEASE)["dcn_processes"] == sorted(planned)
    for name, p in processes(node_units(node, secrets, RELEASE)).items():
        spec = planned[name]
        assert p["unit"] == units.unit_name(spec) and p["path"] == units.unit_path(spec)
        after = [on_node[b] for b in spec.after if b in on_node]
        assert p["content"] == units.render(spec, p["digest"], after)
        assert f'"DCN_DIGEST={p["digest"]}"' in p["content"]
        assert f'"DCN_PROCESS={name}"' in p["content"]
        assert p["health_port"] == spec.health_port
        if spec.packaged_unit:
            assert p["path"].endswith(f"/{spec.packaged_unit}.d/dcn.conf")
        else:
            assert f"ExecStart={units.exec_line(spec.command)}" in p["content"].splitlines()


def test_openstack_units_start_after_the_backends_on_their_node(
    controller: NodePlan, compute: NodePlan, secrets: dict
) -> None:
    """Ordered after MariaDB and RabbitMQ where the node has them (a reboot starts the
    controller's database first); an edge compute has neither to wait for."""
    api = processes(node_units(controller, secrets, RELEASE))["nova-api"]["content"]
    after = next(line for line in api.splitlines() if line.startswith("After="))
    assert "mariadb.service" in after and "rabbitmq-server.service" in after
    edge = processes(node_units(compute, secrets, RELEASE))["nova-compute"]["content"]
    assert "After=network-online.target\n" in edge


def test_packaged_units_are_kept_stopped_until_configured(
    controller: NodePlan, compute: NodePlan, secrets: dict
) -> None:
    packaged = node_vars(controller, secrets, RELEASE)["dcn_packaged_units"]
    assert packaged == ["mariadb.service", "ovn-central.service", "rabbitmq-server.service"]
    edge = node_vars(compute, secrets, RELEASE)["dcn_packaged_units"]
    assert edge == ["openvswitch-switch.service", "ovn-host.service"]


def test_node_vars_are_deterministic(node: NodePlan, secrets: dict[str, str]) -> None:
    assert node_vars(node, secrets, RELEASE) == node_vars(node, dict(secrets), RELEASE)


def test_release_changes_no_process_digest(node: NodePlan, secrets: dict[str, str]) -> None:
    old = processes(node_units(node, secrets, "2024.1"))
    new = processes(node_units(node, secrets, "2024.2"))
    assert {k: p["digest"] for k, p in old.items()} == {k: p["digest"] for k, p in new.items()}


# -- step markers --------------------------------------------------------------------


def test_step_markers_follow_the_release_unless_once(
    controller: NodePlan, secrets: dict[str, str]
) -> None:
    old = markers(node_units(controller, secrets, "2024.1"))
    new = markers(node_units(controller, secrets, "2024.2"))
    specs = step_specs(controller)
    assert set(old) == set(new) == set(specs)
    assert any(s.once for s in specs.values()) and any(not s.once for s in specs.values())
    for key, spec in specs.items():
        if spec.once:
            assert old[key] == new[key], f"{key} would run again for a new release"
        else:
            assert old[key] != new[key], f"{key} would not run for a new release"


def test_step_markers_follow_their_secrets_and_rerun_files(
    controller: NodePlan, secrets: dict[str, str]
) -> None:
    base = markers(node_units(controller, secrets, RELEASE))
    specs = step_specs(controller)
    for name in sorted(secrets):
        after = markers(node_units(controller, {**secrets, name: value_of(name, "x")}, RELEASE))
        for key, spec in specs.items():
            in_env = any(secret_ref(name) in v for v in spec.env.values())
            in_files = any(
                name in controller.files[p].secrets for p in spec.rerun_on if p in controller.files
            )
            assert (after[key] != base[key]) == (in_env or in_files), f"{key} and {name}"
    # the SQL setting the database passwords runs again when the root password changes
    users = ("mariadb", "users")
    assert specs[users].rerun_on
    rotated = markers(node_units(controller, {**secrets, "MysqlRootPassword": "n"}, RELEASE))
    assert rotated[users] != base[users]


def test_step_marker_and_argv(controller: NodePlan, secrets: dict[str, str]) -> None:
    specs = step_specs(controller)
    for unit in node_units(controller, secrets, RELEASE):
        phases = {"pre": unit["pre"], "post": unit["post"]}
        for phase, steps in phases.items():
            for step in steps:
                spec = specs[(unit["service"], step["name"])]
                assert spec.phase == phase
                assert step["env"] == spec.env
                assert step["marker"].startswith(f"{STEP_MARKERS}/{unit['service']}.{spec.name}.")
                assert step["argv"] == list(spec.command)


# -- directories ---------------------------------------------------------------------


def test_every_file_directory_is_created_first(node: NodePlan, secrets: dict[str, str]) -> None:
    """The node's apply.py makes the document's directories, then writes its files."""
    written = json.loads(node_vars(node, secrets, RELEASE)["dcn_write"])
    created = {d["path"] for d in written["dirs"]}
    for f in written["files"]:
        parent = str(PurePosixPath(f["path"]).parent)
        assert parent in created or parent in SYSTEM_DIRS or parent == units.UNIT_DIR, (
            f"{f['path']} needs {parent}, created by no dir entry"
        )
    for spec in node.processes:
        assert spec.workdir in created or spec.workdir in SYSTEM_DIRS, spec.name


def test_the_levels_hold_no_secret_value(node: NodePlan, secrets: dict[str, str]) -> None:
    """What a node runs goes to it in the clear (not no_log): only what it writes holds
    secret values."""
    v = node_vars(node, secrets, RELEASE)
    shown = json.dumps(v["dcn_levels"])
    for name, value in secrets.items():
        if len(value) >= 8:
            assert value not in shown, name
    written = v["dcn_write"]
    assert any(len(value) >= 8 and value in written for value in secrets.values())


def test_units_apply_after_what_they_need(controller: NodePlan, compute: NodePlan) -> None:
    """Levels: the backends first, the APIs side by side, what needs nova's schema last;
    units that only hold files take no level."""

    def named(node: NodePlan) -> list[list[str]]:
        return [[node.units[i].service for i in level] for level in levels(node.units)]

    assert named(controller) == [
        ["mariadb", "rabbitmq", "ovn_central"],
        ["keystone", "glance_api", "placement_api", "neutron_server", "nova_api"],
        # nova_metadata holds files only: nova-api's process serves it
        ["nova_conductor", "nova_scheduler"],
    ]
    edge = named(compute)
    assert edge[:2] == [["ovs"], ["ovn_controller"]] and "nova_compute" in edge[2]


def test_a_unit_without_needs_waits_for_every_unit_before_it() -> None:
    plans = [
        UnitPlan("a", (), processes=(ProcessSpec("a", ("x",)),), needs=()),
        UnitPlan("b", (), processes=(ProcessSpec("b", ("x",)),), needs=()),
        UnitPlan("c", (), processes=(ProcessSpec("c", ("x",)),)),
        UnitPlan("d", (), processes=(ProcessSpec("d", ("x",)),), needs=("a", "gone")),
    ]
    assert levels(plans) == [[0, 1], [2, 3]]


def test_a_directory_is_declared_the_same_way_everywhere(
    node: NodePlan, secrets: dict[str, str]
) -> None:
    """Two units naming one directory with another owner or mode would flip it on
    every deploy."""
    seen: dict[str, tuple[str, str, str]] = {}
    for unit in node_units(node, secrets, RELEASE):
        for d in unit["dirs"]:
            mine = (d["owner"], d["mode"], unit["service"])
            first = seen.setdefault(d["path"], mine)
            assert first[:2] == mine[:2], f"{d['path']}: {first} vs {mine}"


def test_files_of_a_service_that_is_not_root_are_its_users(
    controller: NodePlan, secrets: dict[str, str]
) -> None:
    """RabbitMQ runs as rabbitmq: its secret-bearing config and cookie are its own."""
    files = {f["path"]: f for u in node_units(controller, secrets, RELEASE) for f in u["files"]}
    for path in ("/etc/rabbitmq/rabbitmq.conf", "/var/lib/rabbitmq/.erlang.cookie"):
        assert files[path]["owner"] == "rabbitmq" and files[path]["mode"] in ("0600", "0400")
    assert files["/etc/nova/nova.conf"]["owner"] == "root"


def test_no_planned_file_reads_as_a_python_literal_to_ansible(tmp_path) -> None:
    """Ansible evaluates a templated text starting with "{" or "[" as a Python literal
    when it parses as one, and writes back another text: no file dcn plans may."""
    import ast
    import warnings
    from pathlib import Path

    from dcn.workspace import Workspace

    example = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"
    for result in Workspace(example, state_dir=tmp_path).plan(record=False):
        for node in result.plan.nodes:
            for path, spec in node.files.items():
                text = spec.content
                if text.startswith(("{", "[")):
                    try:
                        with warnings.catch_warnings():  # what Ansible would see, quietly
                            warnings.simplefilter("ignore", SyntaxWarning)
                            ast.literal_eval(ast.parse(text, mode="eval"))
                    except (TypeError, ValueError, SyntaxError, MemoryError):
                        continue
                    raise AssertionError(f"{node.hostname}:{path} reads as a literal")


def test_steps_that_read_secret_files_are_quiet(controller: NodePlan, secrets: dict) -> None:
    """Their output is kept on the node, never shown: an error may quote a secret."""
    quiet = {
        (u["service"], s["name"]): s["quiet"]
        for u in node_units(controller, secrets, RELEASE)
        for s in u["pre"] + u["post"]
    }
    assert quiet[("mariadb", "users")] and quiet[("rabbitmq", "password")]
    assert quiet[("keystone", "bootstrap")] and quiet[("keystone", "catalog")]
    assert not quiet[("nova_api", "db-sync")] and not quiet[("keystone", "db-sync")]
