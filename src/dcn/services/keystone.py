"""Keystone (identity) under gunicorn, with Fernet tokens and credential encryption.

Key repositories hold two keys each: 0 is the staged key, 1 the primary, as
``keystone-manage fernet_setup`` would create them; every key is its own secret so
the plan references them and their values never enter the plan. An admin
``clouds.yaml`` on the controller lets the deploy step (and the operator) run
``openstack`` as admin without passing the password on a command line.

Keystone registers every other service's user, service and endpoints: each declares
them in its own module (`Identity`), and the catalog step's data lists them all.
"""

from __future__ import annotations

import json

from dcn.node import source
from dcn.plan.types import DirSpec, FileSpec, ProcessSpec, StepSpec, secret_ref
from dcn.secrets.catalog import Secret, SecretKind
from dcn.services.base import (
    ALL_INTERFACES,
    CatalogService,
    Database,
    Endpoint,
    Probe,
    RenderContext,
)
from dcn.services.common import (
    BACKENDS,
    DEFAULT_DOMAIN,
    SERVICE_PROJECT,
    db_connection,
    endpoint,
    keystone_url,
    manage,
    region,
)
from dcn.services.render import config_file, file_spec, ini_file
from dcn.services.wsgi import WsgiApi

CONFDIR = "/etc/keystone"
CONF = config_file(f"{CONFDIR}/keystone.conf")
FERNET_KEYS = f"{CONFDIR}/fernet-keys"
CREDENTIAL_KEYS = f"{CONFDIR}/credential-keys"
_CREDENTIAL_KEYS_KEPT = (
    "Keystone's credential keys encrypt the credentials it stores; "
    "a new key makes them unreadable (dcn does not run keystone-manage credential_migrate)"
)
#: key repository -> its keys' secrets, by file name 0 (staged) and 1 (primary)
KEY_SECRETS = {
    FERNET_KEYS: (
        Secret("KeystoneFernetKey0", SecretKind.FERNET_KEY),
        Secret("KeystoneFernetKey1", SecretKind.FERNET_KEY),
    ),
    CREDENTIAL_KEYS: (
        Secret("KeystoneCredential0", SecretKind.FERNET_KEY, _CREDENTIAL_KEYS_KEPT),
        Secret("KeystoneCredential1", SecretKind.FERNET_KEY, _CREDENTIAL_KEYS_KEPT),
    ),
}
ADMIN_SECRET = "AdminPassword"
DATABASE = Database("keystone", "KeystoneDbPassword", ("keystone",))
CLOUDS_YAML = "/etc/openstack/clouds.yaml"
CATALOG_DATA = "/etc/dcn/keystone-catalog.json"
#: the admin password, read by ``bootstrap`` (root's alone: a step gets no secret on
#: its command line or in its environment as delivered)
BOOTSTRAP_PASSWORD = "/etc/dcn/keystone-bootstrap-password"
CATALOG_SCRIPT = "/etc/dcn/keystone-catalog.py"
#: roles every service user holds in the service project (``service`` for service tokens)
SERVICE_ROLES = ("admin", "service")
ENDPOINT = Endpoint("Keystone", 5000)

API = WsgiApi(
    name="keystone",
    app="keystone.wsgi.api:application",
    endpoint=ENDPOINT,
    confdir=CONFDIR,
    workers=2,
    env={"OS_KEYSTONE_CONFIG_DIR": CONFDIR},
)


def keystone_conf(ctx: RenderContext) -> FileSpec:
    return ini_file(
        ctx,
        CONF,
        {
            "database": {
                "connection": db_connection(ctx, DATABASE.user, DATABASE.secret, "keystone")
            },
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": FERNET_KEYS, "max_active_keys": 3},
            "fernet_receipts": {"key_repository": FERNET_KEYS},
            "credential": {"provider": "fernet", "key_repository": CREDENTIAL_KEYS},
        },
    )


def clouds_yaml(ctx: RenderContext) -> FileSpec:
    """openstacksdk's system-wide file; cloud name = the deployment's name."""
    lines = [
        "# managed by dcn: admin credentials of this cloud (mode 0600)",
        "clouds:",
        f"  {ctx.deployment.name}:",
        "    auth:",
        f"      auth_url: {keystone_url(ctx)}",
        "      username: admin",
        # quoted: a plain YAML scalar can't start with "@" (the reference's first char)
        f"      password: '{secret_ref(ADMIN_SECRET)}'",
        "      project_name: admin",
        f"      project_domain_name: {DEFAULT_DOMAIN}",
        f"      user_domain_name: {DEFAULT_DOMAIN}",
        f"    region_name: {region(ctx)}",
        "    interface: internal",
        "    identity_api_version: 3",
    ]
    return file_spec("\n".join(lines) + "\n", mode="0600")


def catalog_data(ctx: RenderContext) -> FileSpec:
    """What keystone-catalog.py registers: service users, services, endpoint URLs."""
    # the catalog imports this module to find it: ask it for the services when rendering
    from dcn.services.catalog import IDENTITIES

    services = []
    for identity in IDENTITIES:
        entry = identity.endpoint.name
        endpoints = {
            iface.lower(): endpoint(ctx, f"{entry}{iface}")["uri"]
            for iface in ALL_INTERFACES
            if f"{entry}{iface}" in ctx.outputs.endpoint_map
        }
        services.append(
            {
                "name": identity.name,
                "type": identity.type,
                "user": identity.user,
                "password": secret_ref(identity.secret),
                "endpoints": endpoints,
            }
        )
    data = {
        "cloud": ctx.deployment.name,
        "region": region(ctx),
        "project": SERVICE_PROJECT,
        "roles": list(SERVICE_ROLES),
        "services": services,
    }
    # a leading newline: Ansible evaluates a templated text that starts with "{" as a
    # Python literal and writes the dict back as other JSON, so the node would never
    # hold the planned bytes (the no-change check compares them)
    return file_spec("\n" + json.dumps(data, indent=2, sort_keys=True) + "\n", mode="0600")


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    out = {CONF: keystone_conf(ctx), **API.files(ctx)}
    for repository, keys in KEY_SECRETS.items():
        for index, key in enumerate(keys):
            # no newline: the file is the key, read as is
            out[f"{repository}/{index}"] = file_spec(secret_ref(key.name), mode="0600")
    out[CLOUDS_YAML] = clouds_yaml(ctx)
    out[CATALOG_DATA] = catalog_data(ctx)
    # no newline: the file is the password, read as is
    out[BOOTSTRAP_PASSWORD] = file_spec(secret_ref(ADMIN_SECRET), mode="0600")
    out[CATALOG_SCRIPT] = file_spec(source("keystone_catalog.py"))
    return out


def dirs(ctx: RenderContext) -> tuple[DirSpec, ...]:
    return (
        DirSpec(FERNET_KEYS, mode="0700"),
        DirSpec(CREDENTIAL_KEYS, mode="0700"),
        DirSpec("/var/log/keystone", mode="0750"),
    )


def steps(ctx: RenderContext) -> tuple[StepSpec, ...]:
    """Schema, the admin user and keystone's own endpoints, then the other services.

    The admin password reaches ``bootstrap`` through its environment, which the step
    fills from a file of root's: never argv, never the deploy's step specification.
    A changed password runs ``bootstrap`` again, which sets it.
    """
    conf = ("--config-file", f"{CONFDIR}/keystone.conf")
    url = keystone_url(ctx)
    bootstrap = manage(
        ctx,
        "keystone-manage",
        *conf,
        "bootstrap",
        "--bootstrap-username",
        "admin",
        "--bootstrap-project-name",
        "admin",
        "--bootstrap-role-name",
        "admin",
        "--bootstrap-service-name",
        "keystone",
        "--bootstrap-region-id",
        region(ctx),
        "--bootstrap-admin-url",
        url,
        "--bootstrap-internal-url",
        url,
        "--bootstrap-public-url",
        keystone_url(ctx, "Public") if "KeystonePublic" in ctx.outputs.endpoint_map else url,
    )
    return (
        StepSpec("db-sync", manage(ctx, "keystone-manage", *conf, "db_sync"), bootstrap_only=True),
        StepSpec(
            "bootstrap",
            (
                "/bin/sh",
                "-c",
                f'OS_BOOTSTRAP_PASSWORD="$(cat {BOOTSTRAP_PASSWORD})" && '
                'export OS_BOOTSTRAP_PASSWORD && exec "$@"',
                "bootstrap",
                *bootstrap,
            ),
            rerun_on=(BOOTSTRAP_PASSWORD,),
            once=True,
            bootstrap_only=True,
        ),
        StepSpec(
            "catalog",
            (f"{ctx.venv}/bin/python", CATALOG_SCRIPT, CATALOG_DATA),
            phase="post",
            rerun_on=(CATALOG_DATA, CATALOG_SCRIPT),
            once=True,
            bootstrap_only=True,
        ),
    )


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


SERVICE = CatalogService(
    name="keystone",
    render_files=files,
    render_processes=processes,
    render_dirs=dirs,
    render_steps=steps,
    tripleo=("keystone", "keystone_public_api"),
    database=DATABASE,
    endpoints=(ENDPOINT, Endpoint("KeystoneV3", ENDPOINT.port, "/v3")),
    references=(ADMIN_SECRET, *(key for keys in KEY_SECRETS.values() for key in keys)),
    hosts=("identities",),
    probes=(Probe("keystone", endpoint=ENDPOINT.internal),),
    needs=BACKENDS,
)
