"""Every endpoint in keystone's catalog is served: each API listens on every address its
EndpointMap entries name that is on the node (its own, the internal VIP, the public
VIP on the external network), and nowhere it could not bind."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dcn.plan.types import StackPlan
from dcn.services.base import RenderContext
from dcn.services.catalog import service
from dcn.services.common import api_listen
from dcn.services.keystone import CATALOG_DATA
from dcn.services.nova_metadata import ENDPOINT as METADATA
from dcn.services.placement_api import ENDPOINT as PLACEMENT
from dcn.workspace import Workspace
from tests.services.conftest import CONTROLLER_IP, VIP, _endpoint, make_ctx, with_outputs
from tests.services.test_apis import APIS, gunicorn_settings

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_VIP = "198.18.48.5"
CONTROLLER_EXTERNAL = "198.18.48.10"


@pytest.fixture
def controller(deployment) -> RenderContext:
    """The central controller attached to the external network, as the role is."""
    return make_ctx(
        deployment,
        "central",
        "central-controller-0",
        {
            "ctlplane": "198.18.0.10",
            "internal_api": CONTROLLER_IP,
            "storage": "198.18.32.10",
            "external": CONTROLLER_EXTERNAL,
        },
        vips={"internal_api": VIP, "ctlplane": "198.18.0.5", "external": PUBLIC_VIP},
    )


def public_too(ctx: RenderContext, host: str = PUBLIC_VIP, port: int | None = None):
    """Outputs whose every API (but the metadata API, internal only) has Public and Admin
    entries, as the control plane publishes them."""
    endpoints = dict(ctx.outputs.endpoint_map)
    for name, entry in ctx.outputs.endpoint_map.items():
        base = name.removesuffix("Internal")
        if base == name or base in ("NovaMetadata", "Keystone"):
            continue
        endpoints[f"{base}Public"] = _endpoint(port or int(entry["port"]), host)
        endpoints[f"{base}Admin"] = dict(entry)
    endpoints["KeystonePublic"] = _endpoint(port or 5000, host)
    endpoints["KeystoneAdmin"] = dict(endpoints["KeystoneInternal"])
    return with_outputs(ctx, endpoint_map=endpoints)


@pytest.mark.parametrize("name", sorted(APIS))
def test_apis_listen_on_the_public_vip(name: str, controller: RenderContext) -> None:
    ctx = public_too(controller)
    port = APIS[name][2]
    bind = gunicorn_settings(ctx, name)["bind"]
    assert bind[:3] == [f"{CONTROLLER_IP}:{port}", f"{VIP}:{port}", f"{PUBLIC_VIP}:{port}"]
    if name == "nova_api":  # and the metadata API: no public endpoint, not on external
        assert bind[3:] == [f"{CONTROLLER_IP}:8775", f"{VIP}:8775"]
    else:
        assert len(bind) == 3
    # health checks keep asking the internal address
    assert service(name).processes(ctx)[0].health_port == port


def test_a_public_entry_with_its_own_port_is_served_on_that_port(
    controller: RenderContext,
) -> None:
    ctx = public_too(controller, port=13778)
    assert api_listen(ctx, PLACEMENT) == (
        f"{CONTROLLER_IP}:8778",
        f"{VIP}:8778",
        f"{PUBLIC_VIP}:13778",
    )
    assert service("placement_api").processes(ctx)[0].health_port == 8778


def test_no_bind_on_an_address_the_node_cannot_hold(controller: RenderContext) -> None:
    # not attached to the external network: the public VIP is not placed on it
    addresses = {k: v for k, v in controller.addresses.items() if k != "external"}
    ctx = public_too(
        make_ctx(
            controller.deployment,
            "central",
            controller.hostname,
            addresses,
            vips=dict(controller.network.vips),
        )
    )
    assert api_listen(ctx, PLACEMENT) == (f"{CONTROLLER_IP}:8778", f"{VIP}:8778")
    # an address that is nobody's here (another site's, a name): only the node's own
    ctx = public_too(controller, host="cloud.example.org")
    assert api_listen(ctx, PLACEMENT) == (f"{CONTROLLER_IP}:8778", f"{VIP}:8778")


def test_without_a_public_vip_public_and_internal_are_one_bind(
    controller: RenderContext,
) -> None:
    ctx = public_too(controller, host=VIP)
    assert api_listen(ctx, PLACEMENT) == (f"{CONTROLLER_IP}:8778", f"{VIP}:8778")
    assert api_listen(ctx, METADATA) == (f"{CONTROLLER_IP}:8775", f"{VIP}:8775")


def test_an_ipv6_public_vip_is_bracketed(controller: RenderContext) -> None:
    vips = {**controller.network.vips, "external": "fd00:dc:48::5"}
    ctx = make_ctx(
        controller.deployment, "central", controller.hostname, dict(controller.addresses), vips
    )
    ctx = public_too(ctx, host="fd00:dc:48::5")
    assert api_listen(ctx, PLACEMENT)[-1] == "[fd00:dc:48::5]:8778"


# -- on real plans: what the catalog names is what the APIs bind ---------------------


def _plan(path: Path, state: Path) -> StackPlan:
    ws = Workspace(path, state_dir=state)
    return next(r.plan for r in ws.plan(["central"], record=False) if r.plan.kind != "edge")


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> StackPlan:
    return _plan(ROOT / "examples" / "dcn-basic.yaml", tmp_path_factory.mktemp("state"))


def test_every_catalog_url_is_bound_on_the_vip_holder(central: StackPlan) -> None:
    """The node holding the VIPs (the lab puts them on the first controller) binds every
    host:port keystone's catalog lists, public ones included."""
    holder = central.api_node()
    assert holder is not None
    binds = set()
    for path, spec in holder.files.items():
        if path.endswith("/gunicorn.conf.py"):
            settings: dict[str, object] = {}
            exec(spec.content, {}, settings)
            binds |= set(settings["bind"])  # type: ignore[arg-type]
    data = json.loads(holder.files[CATALOG_DATA].content)
    listed = {u for s in data["services"] for u in s["endpoints"].values()}
    keystone = next(s for u in holder.units for s in u.steps if s.name == "bootstrap")
    argv = list(keystone.command)
    listed |= {argv[i + 1] for i, a in enumerate(argv) if a.endswith("-url")}
    interfaces = {i for s in data["services"] for i in s["endpoints"]}
    assert interfaces == {"public", "internal", "admin"}
    public = central.network.vips["external"]
    assert any(urlsplit(u).hostname == public for u in listed)
    for url in listed:
        parts = urlsplit(url)
        assert f"{parts.hostname}:{parts.port}" in binds, f"nothing listens for {url}"
