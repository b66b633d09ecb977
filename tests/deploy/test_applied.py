"""The no-change check's deploy side (`dcn.deploy.applied`): the applied digest, what a
node is asked, and which nodes and playbooks Ansible leaves out given the answers.

Real plans (the basic example); secret values are fixed strings, so a test can look for
them in what would cross the wire."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from dcn.deploy import applied, bundle
from dcn.deploy.applied import STAMP, Answer, Expected, decide, parse
from dcn.deploy.bundle import node_vars
from dcn.plan.types import NodePlan, StackPlan
from dcn.workspace import Workspace

BASIC = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"
RELEASE = "2024.2-test"


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> list[StackPlan]:
    ws = Workspace(BASIC, state_dir=tmp_path_factory.mktemp("state"))
    return [r.plan for r in ws.plan(record=False)]


@pytest.fixture(scope="module")
def secrets(plans: list[StackPlan]) -> dict[str, str]:
    return {
        n: f"{n}-value-{hashlib.sha256(n.encode()).hexdigest()[:12]}"
        for p in plans
        for n in p.secrets
    }


@pytest.fixture(scope="module")
def controller(plans: list[StackPlan]) -> NodePlan:
    return next(n for p in plans if p.kind == "control-plane" for n in p.nodes)


def host_vars(node: NodePlan, secrets: dict[str, str], release: str = RELEASE) -> dict[str, Any]:
    return applied.stamped(node_vars(node, secrets, release), STAMP)


def test_the_digest_follows_what_is_applied(controller: NodePlan, secrets: dict[str, str]) -> None:
    """Same inputs, same digest; a rotated secret, a new release, another playbook
    variable: another digest, so the node is applied again (a rotation is never left
    out)."""
    base = host_vars(controller, secrets)["dcn_applied"]
    assert base.startswith("sha256:")
    assert host_vars(controller, dict(secrets))["dcn_applied"] == base
    for name in ("RabbitPassword", "NovaPassword", "KeystoneFernetKey0"):
        rotated = host_vars(controller, {**secrets, name: "rotated-value"})["dcn_applied"]
        assert rotated != base, name
    assert host_vars(controller, secrets, "2025.1-test")["dcn_applied"] != base
    values = node_vars(controller, secrets, RELEASE)
    assert applied.digest({**values, "dcn_packages": ["x"]}) != base
    assert applied.digest(values) == base


def test_the_digest_covers_the_playbooks(
    controller: NodePlan, secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = node_vars(controller, secrets, RELEASE)
    before = applied.digest(values)
    applied._playbooks.cache_clear()
    monkeypatch.setattr(applied, "_playbooks", lambda: b"another dcn's playbooks")
    assert applied.digest(values) != before


def test_a_stamp_is_written_last_and_cleared_first() -> None:
    """site.yml, register.yml and networks.yml: an interrupted or failed run never
    leaves a matching stamp."""
    import yaml

    from dcn.deploy.runner import PLAYBOOKS

    def tasks(name: str) -> list[dict]:
        return yaml.safe_load((PLAYBOOKS / name).read_text())[0]["tasks"]

    # site.yml: cleared by the node programs' install, its first task; written by the
    # last level's apply.py, once every unit of it succeeded
    first = tasks("site.yml")[0]["ansible.builtin.command"]
    assert first["argv"][-1] == "{{ dcn_applied_path | default('') }}"
    assert "os.unlink(path)" in bundle.INSTALL
    level = yaml.safe_load((PLAYBOOKS / "unit.yml").read_text())[0]["ansible.builtin.command"]
    assert "['--stamp', dcn_applied_path" in level["argv"] and "ansible_loop.last" in level["argv"]
    # register.yml: its one task's script clears and writes it
    register = tasks("register.yml")[-1]
    assert "'--stamp', dcn_applied_path" in register["ansible.builtin.command"]["argv"]
    # networks.yml: a task each
    first, last = tasks("networks.yml")[0], tasks("networks.yml")[-1]
    assert first["ansible.builtin.file"] == {"path": "{{ dcn_applied_path }}", "state": "absent"}
    assert last["ansible.builtin.copy"]["dest"] == "{{ dcn_applied_path }}"
    assert last["ansible.builtin.copy"]["content"] == "{{ dcn_applied }}"
    assert last["ansible.builtin.copy"]["mode"] == "0600"
    # bookkeeping: a no-change run still reports no change
    assert first["changed_when"] is False and last["changed_when"] is False


def test_what_a_node_is_asked(controller: NodePlan, secrets: dict[str, str]) -> None:
    """Hashes of every file dcn writes, modes, markers, process digests, the stamp; never
    a content or a secret value."""
    v = host_vars(controller, secrets)
    asked = applied.expected(v)
    units = bundle.node_units(controller, secrets, RELEASE)
    written = json.loads(v["dcn_write"])["files"]
    nova = next(f for f in written if f["path"] == "/etc/nova/nova.conf")
    assert (
        asked.files["/etc/nova/nova.conf"] == hashlib.sha256(nova["content"].encode()).hexdigest()
    )
    assert asked.modes["/etc/nova/nova.conf"] == {"mode": "0640", "owner": "root", "group": "root"}
    assert asked.modes["/var/lib/mysql"] == {"mode": "0750", "owner": "mysql"}
    assert asked.files["/var/lib/dcn/unitctl.py"]
    assert asked.files["/etc/systemd/system/dcn-nova-api.service"]
    assert asked.files["/opt/dcn/venv.constraints.txt"]
    procs = {p["name"]: p["digest"] for u in units for p in u["processes"]}
    assert asked.processes == procs and "nova-api" in procs
    markers = [s["marker"] for u in units for s in u["pre"] + u["post"]]
    assert set(markers) < set(asked.markers) and v["dcn_venv_stamp"] in asked.markers
    assert asked.applied == {STAMP: v["dcn_applied"]}
    request = asked.request()
    assert json.loads(request)["processes"] == procs
    for value in secrets.values():
        assert value not in request
    assert "[DEFAULT]" not in request


def answer(**kw: Any) -> Answer:
    return Answer({STAMP: True, **kw.pop("stamps", {})}, tuple(kw.pop("drift", ())))


def test_nodes_that_hold_their_plan_are_left_out() -> None:
    nodes = ["c0", "c1", "c2"]
    d = decide(nodes, {n: answer() for n in nodes}, seconds=0.42)
    assert d.apply == {} and d.unchanged == tuple(nodes) and d.skips_ansible
    assert d.note() == "3 nodes unchanged (checked in 0.4 s); Ansible skipped"
    assert d.line("dcn0") == "dcn0: 3 nodes unchanged (checked in 0.4 s); Ansible skipped"


def test_any_doubt_means_ansible() -> None:
    """A drifted file, another plan's stamp, no stamp, no answer: Ansible on those."""
    answers: dict[str, Answer | None] = {
        "ok": answer(),
        "edited": answer(drift=["/etc/nova/nova.conf differs"]),
        "other-plan": answer(stamps={STAMP: False}),
        "interrupted": answer(stamps={STAMP: None}),
        "old-or-down": None,
    }
    d = decide(list(answers), answers, seconds=1.0)
    assert d.unchanged == ("ok",)
    assert d.apply == {
        "edited": "/etc/nova/nova.conf differs",
        "other-plan": "applied from another plan",
        "interrupted": "not applied by a successful run",
        "old-or-down": "no answer to the check",
    }
    assert "missing" not in d.apply  # a node without an answer entry at all:
    assert decide(["missing"], {}).apply == {"missing": "no answer to the check"}
    assert d.note() == "1 of 5 nodes unchanged (checked in 1.0 s)"
    assert d.line("dcn0").startswith(
        "dcn0: 1 of 5 nodes unchanged (checked in 1.0 s); Ansible on edited "
        "(/etc/nova/nova.conf differs), other-plan (applied from another plan), "
    )
    assert d.line("dcn0").endswith(" and 1 more")


def test_playbooks_after_site_yml() -> None:
    """register.yml and networks.yml are left out only when their stamp matches and no
    node of the site needed Ansible."""
    reg, net = applied.stamp_path("register-dcn0"), applied.stamp_path("networks")
    followers = {"register.yml": ("cp", reg), "networks.yml": ("c0", net)}
    ok = {"c0": answer(stamps={net: True}), "cp": Answer({reg: True})}
    d = decide(["c0"], ok, followers)
    assert d.playbooks == {"register.yml": None, "networks.yml": None}
    assert not d.runs("register.yml") and d.skips_ansible
    assert d.runs("something-else.yml")  # unknown to the check: runs

    changed = {"c0": answer(stamps={net: False}), "cp": Answer({reg: None})}
    d = decide(["c0"], changed, followers)
    assert d.apply == {} and not d.skips_ansible
    assert d.runs("register.yml") and d.runs("networks.yml")
    assert d.note() == "1 node unchanged (checked in 0.0 s); only register.yml, networks.yml ran"
    assert d.line("dcn0") == (
        "dcn0: 1 node unchanged (checked in 0.0 s); register.yml runs (its inputs changed "
        "since its last successful run); networks.yml runs (its inputs changed since its "
        "last successful run)"
    )

    d = decide(["c0"], {"c0": answer(stamps={net: True})}, followers)
    assert d.playbooks["register.yml"] == "no answer from cp"
    d = decide(
        ["c0"], {"c0": answer(drift=["x missing"], stamps={net: True}), "cp": ok["cp"]}, followers
    )
    assert d.playbooks == {"register.yml": "after site.yml", "networks.yml": "after site.yml"}


def test_full_asks_nothing() -> None:
    check = applied.SiteCheck()
    check.node(
        "c0",
        "c0-address",
        {
            "dcn_programs": '{"programs": []}',
            "dcn_venv": "/opt/dcn/venv",
            "dcn_constraints": "",
            "dcn_venv_stamp": "/s",
            "dcn_write": '{"dirs": [], "files": []}',
            "dcn_levels": [],
            "dcn_applied_path": STAMP,
            "dcn_applied": "sha256:x",
        },
    )
    d = check.everything()
    assert d.apply == {"c0": "--full"} and not d.checked and d.runs("networks.yml")
    assert d.note() == ""


@pytest.mark.parametrize(
    "text",
    [None, "", "not json", "[]", '{"applied": {}}', "usage: unitctl ...", '{"applied": 1}'],
)
def test_anything_but_an_answer_is_none(text: str | None) -> None:
    assert parse(text) is None


def test_an_answer_says_what_differs() -> None:
    text = json.dumps(
        {
            "applied": {STAMP: True},
            "differ": ["/etc/a"],
            "missing": ["/etc/b"],
            "modes": {"/etc/c": "mode 0644 (planned 0640)"},
            "markers": ["/var/lib/dcn/steps/nova.db_sync.12"],
            "processes": {"nova-api": "failed (failed)"},
            "extra": ["dcn-old.service"],
        }
    )
    got = parse(text)
    assert got is not None and got.stamps == {STAMP: True}
    assert got.drift == (
        "/etc/a differs",
        "/etc/b missing",
        "/etc/c: mode 0644 (planned 0640)",
        "step marker nova.db_sync.12 missing",
        "process nova-api: failed (failed)",
        "dcn-old.service is not planned here",
    )


def test_a_follower_stamp_joins_the_nodes_request() -> None:
    """networks.yml's stamp is asked in the controller's own round trip; register.yml's
    on the control plane's node, which is asked about nothing else."""
    check = applied.SiteCheck()
    check.targets["c0"] = ("a0", Expected(applied={STAMP: "s"}, processes={}))
    check.nodes.append("c0")
    extra = applied.stamped({"dcn_networks_spec": {}}, applied.stamp_path("networks"))
    check.follower("networks.yml", "c0", "ignored", extra)
    check.follower("register.yml", "cp", "a1", applied.stamped({}, applied.stamp_path("r")))
    address, c0 = check.targets["c0"]
    assert address == "a0" and set(c0.applied) == {STAMP, applied.stamp_path("networks")}
    address, cp = check.targets["cp"]
    assert address == "a1" and "processes" not in json.loads(cp.request())


def test_only_a_true_stamp_matches() -> None:
    text = json.dumps(
        {
            "applied": {STAMP: 1},
            "differ": [],
            "missing": [],
            "modes": {},
            "markers": [],
            "processes": {},
            "extra": [],
        }
    )
    got = parse(text)
    assert got is not None and STAMP not in got.stamps
    assert decide(["c0"], {"c0": got}).apply == {"c0": "not applied by a successful run"}


def test_a_site_without_nodes() -> None:
    d = decide([], {})
    assert d.skips_ansible and d.note() == "" and d.line("dcn9") == "dcn9: no nodes"
