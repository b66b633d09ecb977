"""Plan the example with one more service, added as a new service would be: its own
module and a line in the role catalog, nothing else. Used by `test_new_service`.

    python -m tests.services.new_service STATE_DIR [MODULE_DIR]

MODULE_DIR holds the new service's module (`cinder_api.py`, from `MODULE`): it joins
the ``dcn.services`` package's path, as a file dropped into src/dcn/services/ would,
and the Controller role gets the service, before anything else of dcn is imported.
Without MODULE_DIR the example is planned as it is. Prints what the derived tables
hold, as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

NAME = "cinder_api"
#: the new service's whole declaration: a database, a keystone user and endpoint, a
#: secret of its own kind, a package, a health probe
MODULE = '''
"""A block storage API: everything dcn needs to know about it is here."""

from dcn.plan.types import FileSpec, ProcessSpec, secret_ref
from dcn.secrets.catalog import Secret, SecretKind
from dcn.services.base import CatalogService, Database, Endpoint, Identity, Probe, RenderContext
from dcn.services.common import authtoken, db_connection
from dcn.services.render import config_file, ini_file

CONF = config_file("/etc/cinder/cinder.conf")
ENDPOINT = Endpoint("Cinder", 8776, "/v3")
DATABASE = Database("cinder", "CinderDbPassword", ("cinder",))
IDENTITY = Identity("cinder", "block-storage", ENDPOINT, "cinder", "CinderPassword")
KEY = Secret("CinderFernetKey", SecretKind.FERNET_KEY)


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    sections = {
        "database": {"connection": db_connection(ctx, DATABASE.user, DATABASE.secret, "cinder")},
        "keystone_authtoken": authtoken(ctx, IDENTITY.user, IDENTITY.secret),
        "key_manager": {"fixed_key": secret_ref(KEY.name)},
    }
    return {CONF: ini_file(ctx, CONF, sections)}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (ProcessSpec(name="cinder-api", command=(f"{ctx.venv}/bin/cinder-api",)),)


SERVICE = CatalogService(
    name="cinder_api",
    render_files=files,
    render_processes=processes,
    database=DATABASE,
    identity=IDENTITY,
    endpoints=(ENDPOINT,),
    references=(KEY,),
    probes=(Probe("cinder", endpoint=ENDPOINT.internal),),
    packages=("cinder-test-package",),
)
'''
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"


def add_service(module_dir: Path) -> None:
    """The two edits adding a service takes: its module, its role."""
    import dcn.services
    from dcn.model import roles

    dcn.services.__path__.append(str(module_dir))
    controller = roles.ROLES["Controller"]
    roles.ROLES["Controller"] = dataclasses.replace(
        controller, services=(*controller.services, NAME)
    )


def derived(state_dir: Path) -> dict[str, Any]:
    """What the catalog's derived tables and the example's plans hold."""
    from dcn.deploy.bundle import node_vars
    from dcn.deploy.prepared import playbook_path, prerequisite_vars
    from dcn.health import targets
    from dcn.services.catalog import ALL_TRIPLEO_STYLE, SECRETS, generate, service
    from dcn.services.render import OVERRIDABLE
    from dcn.workspace import Workspace

    ws = Workspace(EXAMPLE, state_dir=state_dir)
    plans = {r.site: r.plan for r in ws.plan(record=False)}
    central = plans["central"]
    assert central.outputs is not None
    controller = next(n for n in central.nodes if n.role == "Controller")
    values = {name: f"value-of-{name}" for name in central.secrets}
    return {
        "services": list(controller.services),
        "init_sql": controller.files["/etc/dcn/mariadb-init.sql"].content,
        "keystone_catalog": json.loads(controller.files["/etc/dcn/keystone-catalog.json"].content),
        "endpoint_map": central.outputs.endpoint_map,
        "enabled_services": central.outputs.all_nodes_config["enabled_services"],
        "stack_secrets": {site: list(plan.secrets) for site, plan in plans.items()},
        "site_secrets": {site: list(ws.site_secret_names(site)) for site in plans},
        "mariadb_secrets": list(service("mariadb").secrets),
        "keystone_secrets": list(service("keystone").secrets),
        "secret_kinds": {name: str(secret.kind) for name, secret in SECRETS.items()},
        "full_export": list(ALL_TRIPLEO_STYLE),
        "fernet_key_length": len(generate("KeystoneFernetKey0")),
        "packages": node_vars(controller, values, "test")["dcn_packages"],
        "image_packages": prerequisite_vars(playbook_path().read_text())["dcn_packages"],
        "health_targets": targets(central.outputs),
        "files": sorted(controller.files),
        "overridable": sorted(OVERRIDABLE),
    }


def main() -> None:
    state_dir = Path(sys.argv[1])
    if len(sys.argv) > 2:
        add_service(Path(sys.argv[2]))
    print(json.dumps(derived(state_dir), sort_keys=True))


if __name__ == "__main__":
    main()
