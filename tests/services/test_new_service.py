"""Adding a service touches its own module and the role catalog, nothing else.

A fresh interpreter plans the example with a throwaway service (`new_service.MODULE`:
a database, a keystone user and endpoint, a secret of its own kind, a package, a
health probe) whose module joins the ``dcn.services`` package and whose name joins the
Controller role, and reports what every derived table holds; the same run without it
shows none of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.services.new_service import MODULE, NAME

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp: Path, module_dir: Path | None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "tests.services.new_service", str(tmp / "state")]
    argv += [str(module_dir)] if module_dir else []
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """(without the service, with it)."""
    module_dir = tmp_path_factory.mktemp("module")
    (module_dir / f"{NAME}.py").write_text(MODULE, encoding="utf-8")
    return (
        _run(tmp_path_factory.mktemp("before"), None),
        _run(tmp_path_factory.mktemp("after"), module_dir),
    )


@pytest.fixture(scope="module")
def before(runs: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return runs[0]


@pytest.fixture(scope="module")
def after(runs: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return runs[1]


def test_the_role_runs_it_and_its_file_is_rendered(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    assert NAME not in before["services"]
    assert after["services"][-1] == NAME
    assert "/etc/cinder/cinder.conf" in set(after["files"]) - set(before["files"])
    assert "cinder.conf" in set(after["overridable"]) - set(before["overridable"])


def test_mariadb_creates_its_database_and_user(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    assert "cinder" not in before["init_sql"]
    sql = after["init_sql"]
    assert "CREATE DATABASE IF NOT EXISTS `cinder`;" in sql
    assert (
        "CREATE USER IF NOT EXISTS 'cinder'@'%' IDENTIFIED BY '@@dcn-secret:CinderDbPassword@@';"
        in sql
    )
    assert "GRANT ALL PRIVILEGES ON `cinder`.* TO 'cinder'@'%';" in sql
    # after every database declared before it: the others' lines are unchanged
    assert sql.startswith(before["init_sql"].removesuffix("FLUSH PRIVILEGES;\n"))
    assert "CinderDbPassword" in after["mariadb_secrets"]


def test_keystone_registers_its_user_and_endpoints(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    names = [s["name"] for s in after["keystone_catalog"]["services"]]
    assert names == [*(s["name"] for s in before["keystone_catalog"]["services"]), "cinder"]
    cinder = after["keystone_catalog"]["services"][-1]
    assert cinder["type"] == "block-storage" and cinder["user"] == "cinder"
    assert cinder["password"] == "@@dcn-secret:CinderPassword@@"
    assert cinder["endpoints"]["internal"] == after["endpoint_map"]["CinderInternal"]["uri"]
    assert set(cinder["endpoints"]) == {"internal", "public", "admin"}
    assert "CinderPassword" in after["keystone_secrets"]


def test_the_outputs_publish_its_endpoints(before: dict[str, Any], after: dict[str, Any]) -> None:
    added = set(after["endpoint_map"]) - set(before["endpoint_map"])
    assert added == {"CinderInternal", "CinderPublic", "CinderAdmin"}
    internal = after["endpoint_map"]["CinderInternal"]
    assert internal["port"] == "8776" and internal["uri"].endswith(":8776/v3")
    assert set(after["enabled_services"]) - set(before["enabled_services"]) == {NAME}
    assert after["health_targets"]["cinder"] == f"{internal['host']}:8776"
    assert "cinder" not in before["health_targets"]


def test_its_secrets_are_known_generated_and_kept_on_the_control_plane(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    mine = {"CinderDbPassword", "CinderPassword", "CinderFernetKey"}
    assert set(after["secret_kinds"]) - set(before["secret_kinds"]) == mine
    assert after["secret_kinds"]["CinderFernetKey"] == "fernet-key"
    assert after["secret_kinds"]["CinderPassword"] == "password"
    assert mine <= set(after["full_export"])
    assert mine <= set(after["stack_secrets"]["central"]) == set(after["site_secrets"]["central"])
    for edge in ("dcn0", "dcn1"):
        assert after["stack_secrets"][edge] == before["stack_secrets"][edge]
        assert after["site_secrets"][edge] == before["site_secrets"][edge]


def test_its_package_is_installed(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key in ("packages", "image_packages"):
        assert set(after[key]) - set(before[key]) == {"cinder-test-package"}
