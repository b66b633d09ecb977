"""How the catalog reads declarations: discovery, order, derived secrets, refusals."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import pytest

from dcn.model.roles import ROLES
from dcn.secrets.catalog import Secret, SecretKind
from dcn.services import catalog
from dcn.services.base import CatalogService, Database, Endpoint, Identity, Probe
from dcn.services.catalog import (
    check_unique,
    declarations,
    resolve,
    role_order,
    secret_table,
)


def _none(_ctx: object) -> tuple[()]:
    return ()


def decl(name: str, **fields: object) -> CatalogService:
    return CatalogService(name=name, render_files=dict, render_processes=_none, **fields)  # type: ignore[arg-type]


def test_every_module_of_the_package_is_looked_at() -> None:
    found = {s.name for s in declarations()}
    assert found == set(catalog.SERVICES)
    assert {"mariadb", "nova_api", "nova_compute"} <= found


def test_discovery_finds_a_package_of_declarations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fakeservices"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("VALUE = 1\n")
    (package / "one.py").write_text(
        "from dcn.services.base import CatalogService\n"
        "A = CatalogService('a', dict, tuple)\n"
        "B = CatalogService('b', dict, tuple)\n"
    )
    # a module that imports another's declaration does not declare it twice
    (package / "two.py").write_text("from fakeservices.one import A\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fakeservices")
    try:
        assert [s.name for s in declarations(module)] == ["a", "b"]
        (package / "three.py").write_text(
            "from dcn.services.base import CatalogService\nA = CatalogService('a', dict, tuple)\n"
        )
        with pytest.raises(ValueError, match="service a is declared twice"):
            declarations(module)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "fakeservices"]:
            del sys.modules[name]


def test_services_come_in_the_role_catalogs_order() -> None:
    in_roles = list(dict.fromkeys(s for role in ROLES.values() for s in role.services))
    assert list(catalog.SERVICES) == in_roles
    assert role_order(["zeta", "nova_compute", "alpha", "mariadb"]) == [
        "mariadb",
        "nova_compute",
        "alpha",
        "zeta",
    ]


def test_a_service_references_its_database_and_user_and_a_host_gathers_them() -> None:
    ep = Endpoint("Thing", 1234)
    thing = decl(
        "thing",
        database=Database("thing", "ThingDbPassword", ("thing",)),
        identity=Identity("thing", "thing", ep, "thing", "ThingPassword"),
        endpoints=(ep,),
        references=("RabbitPassword",),
    )
    sql = decl("sql", references=("RootPassword",), hosts=("databases",))
    ids = decl("ids", hosts=("identities",))
    resolved = resolve([thing, sql, ids])
    assert resolved["thing"].secrets == ("RabbitPassword", "ThingDbPassword", "ThingPassword")
    assert resolved["sql"].secrets == ("RootPassword", "ThingDbPassword")
    assert resolved["ids"].secrets == ("ThingPassword",)
    # an endpoint is served by the service's (first) TripleO name unless it says otherwise
    assert resolved["thing"].endpoints[0].service == "thing"


def test_a_bare_name_takes_the_kind_declared_elsewhere() -> None:
    key = Secret("ThingKey", SecretKind.FERNET_KEY, "kept")
    table = secret_table(
        [decl("a", references=("ThingKey", "Other")), decl("b", references=(key,))]
    )
    assert table == {"Other": Secret("Other"), "ThingKey": key}
    clash = decl("c", references=(Secret("ThingKey", SecretKind.ERLANG_COOKIE),))
    with pytest.raises(ValueError, match="secret ThingKey is declared twice, differently"):
        secret_table([decl("b", references=(key,)), clash])


def test_the_secret_catalog_is_the_services_secrets() -> None:
    assert set(catalog.SECRETS) == {s for svc in catalog.SERVICES.values() for s in svc.secrets}
    assert tuple(sorted(catalog.SECRETS)) == catalog.ALL_TRIPLEO_STYLE
    assert set(catalog.NOT_ROTATED) == {"KeystoneCredential0", "KeystoneCredential1"}
    assert catalog.kind("KeystoneFernetKey0") is SecretKind.FERNET_KEY
    assert catalog.kind("RabbitCookie") is SecretKind.ERLANG_COOKIE
    assert len(catalog.generate("RabbitCookie")) == 20


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("database", Database("nova", "X", ("x",)), "database user nova"),
        ("database", Database("x", "X", ("glance",)), "database glance"),
        ("endpoints", (Endpoint("Nova", 1, service="x"),), "endpoint Nova"),
        ("tripleo", ("placement",), "TripleO service placement"),
        ("global_config", {"oslo_messaging_rpc_port": "1"}, "GlobalConfig key"),
        ("probes", (Probe("nova", endpoint="X"),), "probe nova"),
    ],
)
def test_two_services_may_not_declare_the_same_row(field: str, value: object, message: str) -> None:
    clash = decl("x", **{"tripleo": ("x",), field: value})
    with pytest.raises(ValueError, match=message):
        check_unique([*catalog.SERVICES.values(), clash])


def test_an_endpoint_is_served_by_one_of_its_services_tripleo_names() -> None:
    bad = decl("x", endpoints=(Endpoint("X", 1, service="nova_api"),))
    with pytest.raises(ValueError, match="endpoint X is served by nova_api"):
        resolve([bad])
    good = dataclasses.replace(bad, tripleo=("x", "nova_api"))
    assert resolve([good])["x"].endpoints[0].service == "nova_api"
