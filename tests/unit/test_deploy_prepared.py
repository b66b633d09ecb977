"""The prepared node image's inputs, cache key, wrapper play, pip sources and cleaning
(pure or on a temporary tree: nothing is built or booted here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import dcn
from dcn.deploy import prepared
from dcn.errors import DcnError
from dcn.lab.prereqs import OPENSTACK_REQUIREMENTS, constraints_file, stamp_path

VARS = {"dcn_packages": ["a", "b"], "dcn_venv": "/opt/dcn/venv"}


def test_cache_key_changes_with_each_input() -> None:
    args = ("base1", b"- name: x\n", VARS, b"nova==1\n")
    key = prepared.cache_key(*args)
    assert prepared.cache_key(*args) == key  # stable
    variants = [
        prepared.cache_key("base2", *args[1:]),
        prepared.cache_key(args[0], b"- name: y\n", *args[2:]),
        prepared.cache_key(*args[:2], {**VARS, "dcn_venv": "/opt/other"}, args[3]),
        prepared.cache_key(*args[:2], {**VARS, "dcn_packages": ["a", "b", "c"]}, args[3]),
        prepared.cache_key(*args[:3], b"nova==2\n"),
        prepared.cache_key(*args, version=dcn.__version__ + ".post1"),
        prepared.cache_key(*args, fmt=prepared.FORMAT + 1),
    ]
    assert len({key, *variants}) == len(variants) + 1


def test_cache_key_ignores_the_order_of_variables() -> None:
    reordered = dict(reversed(list(VARS.items())))
    assert prepared.cache_key("b", b"p", VARS, b"c") == prepared.cache_key(
        "b", b"p", reordered, b"c"
    )


def test_variables_are_the_deploys_for_every_service() -> None:
    text = prepared.playbook_path().read_text()
    variables = prepared.prerequisite_vars(text)
    # exactly the variables the real tasks use, each with the deploy's value
    assert set(variables) == prepared.playbook_variables(text)
    assert {"dcn_packages", "dcn_venv", "dcn_constraints"} <= set(variables)
    assert {"mariadb-server", "rabbitmq-server", "python3-venv"} <= set(variables["dcn_packages"])
    # the image keeps every package unit stopped: a node starts those it runs itself
    assert variables["dcn_packaged_units"] == [
        "haproxy.service",
        "keepalived.service",
        "mariadb.service",
        "openvswitch-switch.service",
        "ovn-central.service",
        "ovn-host.service",
        "rabbitmq-server.service",
    ]
    assert variables["dcn_constraints"] == constraints_file().read_text()
    assert variables["dcn_venv_requirements"] == list(OPENSTACK_REQUIREMENTS)
    venv = Path(variables["dcn_venv"])
    assert variables["dcn_venv_stamp"] == str(stamp_path(venv))


def test_a_variable_the_deploy_lacks_is_a_clear_error() -> None:
    with pytest.raises(DcnError, match="dcn_not_a_deploy_variable"):
        prepared.prerequisite_vars("x: '{{ dcn_not_a_deploy_variable }}'\n")


def test_wrapper_play_includes_the_real_tasks() -> None:
    play = yaml.safe_load(prepared.wrapper_play(Path("/src/dcn/deploy/playbooks/pre.yml")))
    assert len(play) == 1 and play[0]["hosts"] == prepared.BUILD_HOST
    assert play[0]["tasks"] == [
        {
            "name": "dcn: prerequisites of a real host",
            "ansible.builtin.include_tasks": "/src/dcn/deploy/playbooks/pre.yml",
        }
    ]


PIP_CONFIG_LIST = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple https://x.example/simple'
global.find-links='/opt/wheels'
global.index-url='https://pypi.example/simple'
"""


def test_local_pip_sources_binds_and_build_pip_conf() -> None:
    sources = prepared.local_pip_sources(PIP_CONFIG_LIST)
    assert sources == [
        ("find-links", Path("/opt/wheels")),
        ("extra-index-url", Path("/opt/pypi/simple")),
        ("extra-index-url", Path("/opt/pypi-more/simple")),
    ]
    # an index's pages link to files beside it: its folder is bound
    assert prepared.pip_binds(sources) == [
        Path("/opt/wheels"),
        Path("/opt/pypi"),
        Path("/opt/pypi-more"),
    ]
    conf = prepared.build_pip_conf("http://10.250.255.1:3128", sources)
    assert "proxy = http://10.250.255.1:3128" in conf
    assert "cert = /etc/ssl/certs/ca-certificates.crt" in conf
    assert "find-links = /opt/wheels" in conf
    assert "extra-index-url = file:///opt/pypi/simple file:///opt/pypi-more/simple" in conf
    assert "constraint" not in conf  # the machine's own caps stay on the machine
    bare = prepared.build_pip_conf("http://10.250.255.1:3128", [])
    assert "find-links" not in bare and "extra-index-url" not in bare


def test_clean_root_removes_what_is_per_node(tmp_path: Path) -> None:
    root = tmp_path / "root"
    keep = {
        "var/lib/apt/lists/deb.debian.org_Release": "lists",
        "var/lib/mysql/ibdata1": "db",
        "opt/dcn/venv/bin/nova-compute": "#!",
    }
    gone = [
        "etc/ssh/ssh_host_ed25519_key",
        "etc/ssh/ssh_host_ed25519_key.pub",
        "etc/hostname",
        "var/lib/dbus/machine-id",
        "var/lib/systemd/random-seed",
        "var/lib/systemd/credential.secret",
        "root/.ssh/authorized_keys",
        "etc/apt/apt.conf.d/80dcn-proxy",
        "etc/pip.conf",
        "var/lib/rabbitmq/.erlang.cookie",
        "var/lib/rabbitmq/mnesia/rabbit@dcn-image/x",
        "var/cache/apt/archives/mariadb.deb",
        "var/cache/apt/pkgcache.bin",
        "var/log/journal/0123/system.journal",
        "var/log/dpkg.log",
        "var/log/mysql/error.log",
        "tmp/x",
        "root/.cache/pip/wheel",
        "root/.ansible/tmp/a",
    ]
    for rel, text in {**keep, **{g: "x" for g in gone}}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "etc/machine-id").write_text("0123\n")
    (root / "etc/hosts").write_text("127.0.1.1 dcn-image\n")
    (root / "opt/wheels").mkdir(parents=True)
    prepared.clean_root(
        root,
        {"etc/hosts": b"127.0.0.1 localhost\n", "etc/resolv.conf": None},
        [Path("/opt/wheels")],
    )
    for rel, text in keep.items():
        assert (root / rel).read_text() == text, rel
    for rel in gone:
        assert not (root / rel).exists(), rel
    assert (root / "etc/machine-id").read_text() == ""
    assert (root / "etc/hosts").read_text() == "127.0.0.1 localhost\n"
    assert not (root / "etc/resolv.conf").exists()
    assert not (root / "opt/wheels").exists() and (root / "opt/dcn").is_dir()
    assert not (root / "root/.ssh").exists()
    assert not (root / "root/.cache").exists() and not (root / "root/.ansible").exists()
    # directories stay (packages own them), emptied
    for rel in (
        "var/log/journal",
        "var/log/mysql",
        "var/lib/rabbitmq/mnesia",
        "var/cache/apt/archives",
        "tmp",
    ):
        assert (root / rel).is_dir() and not any((root / rel).iterdir()), rel


def test_task_seconds_from_junit(tmp_path: Path) -> None:
    name = f"[dcn-image] {prepared.PLAY_NAME}: dcn: OpenStack virtualenv"
    (tmp_path / "image-1.xml").write_text(
        f'<testsuites><testsuite name="x"><testcase name="{name}" time="123.45"/>'
        '<testcase name="[dcn-image] p: dcn: packages" time="30"/></testsuite></testsuites>'
    )
    assert prepared.task_seconds(tmp_path) == {
        "dcn: OpenStack virtualenv": 123.5,
        "p: dcn: packages": 30.0,
    }


def test_build_machine_boots_the_copy_in_place_with_read_only_binds() -> None:
    m = prepared._build_machine(Path("/cache/.prepare-x-1"), 1, (Path("/opt/wheels"),))
    assert m.in_place and m.netns == "dcnimg-1" and m.image == Path("/cache/.prepare-x-1/root")
    assert "--bind-ro=/opt/wheels" in m.nspawn_command()
    with pytest.raises(DcnError, match="read-only bind"):
        prepared._build_machine(Path("/cache/x"), 1, (Path("/opt/a:b"),))
