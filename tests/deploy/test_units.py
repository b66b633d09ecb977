"""Systemd units rendered from process declarations (`dcn.deploy.units`), and the node
program that reads them back (`dcn.node.unitctl`): what one writes the other finds."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from dcn.deploy import units
from dcn.plan.types import ProcessSpec, secret_ref

API = ProcessSpec(
    name="nova-api",
    command=("/opt/dcn/venv/bin/gunicorn",),
    workdir="/etc/nova/gunicorn",
    env={"OS_LOG": "x"},
    after=("mariadb", "rabbitmq"),
)
DB = ProcessSpec(
    name="mariadb",
    packaged_unit="mariadb.service",
    env={"MYSQLD_OPTS": "--defaults-file=/etc/mysql/my.cnf"},
    user="mysql",
)


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_dcn_unit_of_a_process() -> None:
    text = units.render(API, "abc123", ["mariadb.service", "rabbitmq-server.service"])
    got = lines(text)
    assert units.unit_name(API) == "dcn-nova-api.service"
    assert units.unit_path(API) == "/etc/systemd/system/dcn-nova-api.service"
    for line in (
        "After=network-online.target mariadb.service rabbitmq-server.service",
        "User=root",
        "WorkingDirectory=/etc/nova/gunicorn",
        "ExecStart=/opt/dcn/venv/bin/gunicorn",
        "Restart=on-failure",
        f"RestartSec={units.RESTART_SEC}",
        "StartLimitIntervalSec=0",
        'Environment="DCN_DIGEST=abc123" "DCN_PROCESS=nova-api" "OS_LOG=x"',
        "WantedBy=multi-user.target",
        # every start records the digest it runs (as root, before the process)
        'ExecStartPre=+/bin/sh -c "mkdir -p /run/dcn/units && echo abc123 > '
        '/run/dcn/units/nova-api"',
    ):
        assert line in got, line


def test_drop_in_of_a_packaged_unit_keeps_debians_unit() -> None:
    """Only environment and restart policy: ExecStart, User and the rest stay Debian's."""
    text = units.render(DB, "d1")
    assert units.unit_name(DB) == "mariadb.service"
    assert units.unit_path(DB) == "/etc/systemd/system/mariadb.service.d/dcn.conf"
    assert not any(
        line.startswith(("ExecStart=", "User=", "[Install]", "Type=")) for line in lines(text)
    )
    assert (
        'Environment="DCN_DIGEST=d1" "DCN_PROCESS=mariadb" '
        '"MYSQLD_OPTS=--defaults-file=/etc/mysql/my.cnf"' in lines(text)
    )
    assert "Restart=on-failure" in lines(text)
    assert any(line.startswith("ExecStartPre=+/bin/sh -c ") for line in lines(text))


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("/bin/x", "--a=b"), "/bin/x --a=b"),
        (("/bin/sh", "-c", "a b; c"), '/bin/sh -c "a b; c"'),
        (("/bin/x", "50%"), "/bin/x 50%%"),
        (("/bin/x", "$HOME"), "/bin/x $$HOME"),
        (("/bin/x", 'say "hi"'), '/bin/x "say \\"hi\\""'),
        (("/bin/x", "a\\b"), '/bin/x "a\\\\b"'),
        (("/bin/x", ""), '/bin/x ""'),
    ],
)
def test_exec_line_is_one_word_per_argument(argv: tuple[str, ...], line: str) -> None:
    """systemd splits ExecStart= on spaces, unquotes C-style, expands $VAR and %
    specifiers: each argument must reach the process unchanged."""
    assert units.exec_line(argv) == line


@pytest.mark.parametrize(
    "spec",
    [
        ProcessSpec(name="x", command=("/bin/x",), env={"PASSWORD": secret_ref("DbPassword")}),
        ProcessSpec(name="x", command=("/bin/x", secret_ref("DbPassword"))),
        ProcessSpec(name="x", command=("/bin/x", "a\nExecStartPre=/bin/evil")),
        ProcessSpec(name="x", command=("/bin/x",), env={"BAD NAME": "v"}),
    ],
)
def test_a_unit_never_holds_a_secret_or_a_line_break(spec: ProcessSpec) -> None:
    with pytest.raises(ValueError):
        units.render(spec, "d")


def test_unitctl_finds_what_was_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node program reads process names, units and digests from the files the
    deploy writes (dcn's own units and drop-ins), and ignores every other unit."""
    monkeypatch.setenv("DCN_UNIT_DIR", str(tmp_path))
    from dcn.node import unitctl

    unitctl = importlib.reload(unitctl)
    for spec, digest in ((API, "aaa"), (DB, "bbb")):
        path = tmp_path / units.unit_path(spec).removeprefix(units.UNIT_DIR + "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(units.render(spec, digest))
    (tmp_path / "ssh.service").write_text("[Service]\nExecStart=/usr/sbin/sshd\n")
    (tmp_path / "dcn-supervisor.service").write_text("[Service]\nExecStart=/x run\n")
    (tmp_path / "ssh.service.d").mkdir()
    (tmp_path / "ssh.service.d" / "local.conf").write_text('Environment="DCN_PROCESS=no"\n')
    found = unitctl.managed()
    assert found == {
        "nova-api": {
            "unit": "dcn-nova-api.service",
            "path": str(tmp_path / "dcn-nova-api.service"),
            "digest": "aaa",
        },
        "mariadb": {
            "unit": "mariadb.service",
            "path": str(tmp_path / "mariadb.service.d" / "dcn.conf"),
            "digest": "bbb",
        },
    }


def test_drop_in_of_a_group_unit_sets_no_restart_policy() -> None:
    """A oneshot grouping daemons (openvswitch-switch): systemd 252 refuses Restart= on
    it; its daemons restart on their own. Its start still records the digest."""
    spec = ProcessSpec(name="ovs", packaged_unit="openvswitch-switch.service", group=True)
    text = units.render(spec, "d2")
    assert not any(line.startswith(("Restart", "StartLimit")) for line in lines(text))
    assert any(line.startswith("ExecStartPre=+/bin/sh -c ") for line in lines(text))
    assert '"DCN_DIGEST=d2"' in text


def test_an_api_gives_its_workers_less_time_than_its_unit_gives_it() -> None:
    """gunicorn kills workers that ignore SIGTERM (neutron's, once its hash ring runs)
    before systemd kills the master and leaves them behind."""
    from dcn.deploy.units import STOP_TIMEOUT
    from dcn.services.wsgi import GRACEFUL_SECONDS

    assert int(STOP_TIMEOUT) >= GRACEFUL_SECONDS + 5
