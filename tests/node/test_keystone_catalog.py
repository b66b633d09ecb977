"""The catalog follows a moved VIP: the next control-plane deploy points every endpoint
at the new address.

Three links make it so, each checked here on real plans of the example: the rendered
catalog data and keystone's bootstrap command name the new URLs; their step markers
change, so the deploy runs both again; and the node's catalog script updates existing
endpoints in place (keystone-manage bootstrap does the same for keystone's own, see
``_bootstrap_catalog`` in keystone/cmd/bootstrap.py). The keystone API is a fake
holding plain records; the real calls run in the lab's end-to-end test.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dcn.deploy.bundle import node_units
from dcn.node import keystone_catalog
from dcn.plan.types import NodePlan, StackPlan
from dcn.services.keystone import CATALOG_DATA
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"
EXTERNAL_LEAF = "external:     {cidr: 198.18.48.0/24, gateway: 198.18.48.1}"
#: the same leaf with a pool that starts elsewhere: the public VIP moves to .100
MOVED = (
    "external:     {cidr: 198.18.48.0/24, gateway: 198.18.48.1,"
    " allocation_pools: [{start: 198.18.48.100, end: 198.18.48.200}]}"
)


@dataclass
class Record:
    id: str
    name: str = ""
    type: str = ""
    url: str = ""
    interface: str = ""
    service_id: str = ""
    region_id: str = ""


class FakeIdentity:
    """What the script calls of ``conn.identity``, over plain lists."""

    def __init__(self) -> None:
        self.ids = (f"id-{n}" for n in itertools.count())
        self.projects = [Record(next(self.ids), name="admin")]
        self.roles: list[Record] = []
        self.users: list[Record] = []
        self.services_: list[Record] = []
        self.endpoints_: list[Record] = []
        self.calls: list[str] = []

    def _find(self, items: list[Record], name: str) -> Record | None:
        return next((r for r in items if r.name == name), None)

    def find_project(self, name: str, domain_id: str) -> Record | None:
        return self._find(self.projects, name)

    def create_project(self, name: str, domain_id: str) -> Record:
        self.projects.append(Record(next(self.ids), name=name))
        return self.projects[-1]

    def find_role(self, name: str) -> Record | None:
        return self._find(self.roles, name)

    def create_role(self, name: str) -> Record:
        self.roles.append(Record(next(self.ids), name=name))
        return self.roles[-1]

    def find_user(self, name: str, domain_id: str) -> Record | None:
        return self._find(self.users, name)

    def create_user(self, name: str, **_: Any) -> Record:
        self.users.append(Record(next(self.ids), name=name))
        return self.users[-1]

    def update_user(self, user: Record, password: str) -> Record:
        return user

    def assign_project_role_to_user(self, project: Record, user: Record, role: Record) -> None:
        pass

    def services(self, type: str) -> list[Record]:
        return [s for s in self.services_ if s.type == type]

    def create_service(self, name: str, type: str, enabled: bool) -> Record:
        self.services_.append(Record(next(self.ids), name=name, type=type))
        return self.services_[-1]

    def endpoints(self, service_id: str, interface: str) -> list[Record]:
        return [
            e for e in self.endpoints_ if e.service_id == service_id and e.interface == interface
        ]

    def create_endpoint(self, service_id: str, interface: str, url: str, region_id: str) -> None:
        self.calls.append(f"create {interface} {url}")
        self.endpoints_.append(
            Record(
                next(self.ids),
                url=url,
                interface=interface,
                service_id=service_id,
                region_id=region_id,
            )
        )

    def update_endpoint(self, endpoint: Record, url: str) -> None:
        self.calls.append(f"update {endpoint.interface} {url}")
        endpoint.url = url


class FakeConn:
    def __init__(self) -> None:
        self.identity = FakeIdentity()


def plan_of(tmp_path: Path, name: str, text: str) -> StackPlan:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "dcn.yaml").write_text(text)
    ws = Workspace(folder / "dcn.yaml", state_dir=folder / ".dcn")
    return next(r.plan for r in ws.plan(["central"], record=False) if r.plan.kind != "edge")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[StackPlan, StackPlan]:
    tmp = tmp_path_factory.mktemp("vip")
    text = EXAMPLE.read_text()
    assert EXTERNAL_LEAF in text
    return plan_of(tmp, "before", text), plan_of(tmp, "after", text.replace(EXTERNAL_LEAF, MOVED))


def controller(plan: StackPlan) -> NodePlan:
    return next(n for n in plan.nodes if "keystone" in n.services)


def catalog(plan: StackPlan) -> dict[str, Any]:
    return json.loads(controller(plan).files[CATALOG_DATA].content)


def urls(data: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(s["type"], i, u) for s in data["services"] for i, u in s["endpoints"].items()}


def test_the_public_vip_moved(plans: tuple[StackPlan, StackPlan]) -> None:
    before, after = plans
    assert before.network.vips["external"] != after.network.vips["external"]
    assert after.network.vips["external"] == "198.18.48.100"
    assert before.network.vips["internal_api"] == after.network.vips["internal_api"]


def test_the_catalog_data_names_the_new_public_urls(plans: tuple[StackPlan, StackPlan]) -> None:
    before, after = plans
    old_vip, new_vip = (p.network.vips["external"] for p in plans)
    public = {(t, u) for t, i, u in urls(catalog(after)) if i == "public"}
    assert public and all(f"//{new_vip}:" in u for _, u in public)
    assert not any(old_vip in u for _, _, u in urls(catalog(after)))
    # internal and admin URLs did not move
    assert {x for x in urls(catalog(before)) if x[1] != "public"} == {
        x for x in urls(catalog(after)) if x[1] != "public"
    }


def test_the_deploy_runs_catalog_and_bootstrap_again(plans: tuple[StackPlan, StackPlan]) -> None:
    """Both steps are `once` (not re-run for a release), yet a moved VIP re-runs them: the
    catalog step by its data file, keystone's bootstrap by its command (its URLs)."""
    secrets = {name: f"{name}-value" for p in plans for name in p.secrets}

    def markers(plan: StackPlan) -> dict[str, str]:
        units = node_units(controller(plan), secrets, "2024.2")
        unit = next(u for u in units if u["service"] == "keystone")
        return {s["name"]: s["marker"] for s in unit["pre"] + unit["post"]}

    old, new = (markers(p) for p in plans)
    assert old["catalog"] != new["catalog"]
    assert old["bootstrap"] != new["bootstrap"]
    assert old["db-sync"] == new["db-sync"]
    bootstrap = next(
        s for u in controller(plans[1]).units for s in u.steps if s.name == "bootstrap"
    )
    argv = list(bootstrap.command)
    public = argv[argv.index("--bootstrap-public-url") + 1]
    assert public == f"http://{plans[1].network.vips['external']}:5000"


def test_existing_endpoints_are_updated_in_place(
    plans: tuple[StackPlan, StackPlan], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = FakeConn()
    monkeypatch.setattr(keystone_catalog, "connect", lambda cloud: conn)
    before, after = plans
    for name, plan in (("before", before), ("after", after)):
        (tmp_path / name).write_text(json.dumps(catalog(plan)))

    keystone_catalog.main(str(tmp_path / "before"))
    first = {e.id: (e.interface, e.url) for e in conn.identity.endpoints_}
    assert len(first) == len(urls(catalog(before)))
    conn.identity.calls.clear()

    keystone_catalog.main(str(tmp_path / "after"))
    ids = {e.id for e in conn.identity.endpoints_}
    assert ids == set(first), "endpoints were added or removed instead of updated"
    assert not any(c.startswith("create") for c in conn.identity.calls)
    moved = {(i, u) for t, i, u in urls(catalog(after))} - {(i, u) for i, u in first.values()}
    assert moved and {f"update {i} {u}" for i, u in moved} == set(conn.identity.calls)
    service_type = {s.id: s.type for s in conn.identity.services_}
    held = {(service_type[e.service_id], e.interface, e.url) for e in conn.identity.endpoints_}
    assert held == urls(catalog(after))

    conn.identity.calls.clear()
    keystone_catalog.main(str(tmp_path / "after"))
    assert conn.identity.calls == [], "a converged catalog is left alone"
