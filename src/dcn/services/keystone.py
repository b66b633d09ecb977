"""Keystone (identity) under gunicorn, with Fernet tokens and credential encryption.

Key repositories hold two keys each: 0 is the staged key, 1 the primary, as
``keystone-manage fernet_setup`` would create them; every key is its own secret so
the plan references them and their values never enter the plan. An admin
``clouds.yaml`` on the controller lets the deploy step (and the operator) run
``openstack`` as admin without passing the password on a command line.
"""

from __future__ import annotations

from dcn.plan.types import FileSpec, ProcessSpec, secret_ref
from dcn.services.base import RenderContext
from dcn.services.common import DEFAULT_DOMAIN, db_connection, keystone_url, region
from dcn.services.render import CatalogService, file_spec, ini_file
from dcn.services.wsgi import WsgiApi

CONFDIR = "/etc/keystone"
FERNET_KEYS = f"{CONFDIR}/fernet-keys"
CREDENTIAL_KEYS = f"{CONFDIR}/credential-keys"
#: key repository -> its keys' secrets, by file name 0 (staged) and 1 (primary)
KEY_SECRETS = {
    FERNET_KEYS: ("KeystoneFernetKey0", "KeystoneFernetKey1"),
    CREDENTIAL_KEYS: ("KeystoneCredential0", "KeystoneCredential1"),
}
CLOUDS_YAML = "/etc/openstack/clouds.yaml"

API = WsgiApi(
    name="keystone",
    app="keystone.wsgi.api:application",
    endpoint="KeystoneInternal",
    port=5000,
    confdir=CONFDIR,
    workers=2,
    env={"OS_KEYSTONE_CONFIG_DIR": CONFDIR},
)


def keystone_conf(ctx: RenderContext) -> FileSpec:
    return ini_file(
        ctx,
        "keystone.conf",
        {
            "database": {
                "connection": db_connection(ctx, "keystone", "KeystoneDbPassword", "keystone")
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
        f"      password: '{secret_ref('AdminPassword')}'",
        "      project_name: admin",
        f"      project_domain_name: {DEFAULT_DOMAIN}",
        f"      user_domain_name: {DEFAULT_DOMAIN}",
        f"    region_name: {region(ctx)}",
        "    interface: internal",
        "    identity_api_version: 3",
    ]
    return file_spec("\n".join(lines) + "\n", mode="0600")


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    out = {f"{CONFDIR}/keystone.conf": keystone_conf(ctx), **API.files(ctx)}
    for repository, names in KEY_SECRETS.items():
        for index, name in enumerate(names):
            # no newline: the file is the key, read as is
            out[f"{repository}/{index}"] = file_spec(secret_ref(name), mode="0600")
    out[CLOUDS_YAML] = clouds_yaml(ctx)
    return out


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


SERVICE = CatalogService(
    name="keystone",
    secrets=tuple(
        sorted(
            {"AdminPassword", "KeystoneDbPassword", *(n for v in KEY_SECRETS.values() for n in v)}
        )
    ),
    render_files=files,
    render_processes=processes,
)
