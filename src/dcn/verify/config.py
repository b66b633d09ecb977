"""tempest.conf from what dcn knows of the deployed cloud. Pure: no I/O, no cloud.

Everything Tempest would otherwise guess is explicit here, because its guesses are
wrong for a dcn cloud: the region is ``regionOne``, the catalog's served endpoints are
the internal ones, there is no block or object storage, and nova's compute driver is
the fake one, which boots no guest. The features that driver (or the lab) cannot
offer are turned off in `FEATURE_FLAGS`, each with its reason; docs/operate.md lists
them and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcn.errors import DcnError
from dcn.lines import join_lines, unsafe_char

#: the catalog of a dcn cloud serves internal endpoints (the lab's public ones answer nowhere)
ENDPOINT_TYPE = "internal"
#: nova's default scheduler filters (nova.conf's [filter_scheduler] enabled_filters);
#: dcn does not change them, and Tempest must know them to pick its scheduler-hint tests
NOVA_FILTERS = (
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
)
#: services Tempest knows of: what a dcn cloud runs (keystone is always assumed)
SERVICES = {
    "nova": True,
    "glance": True,
    "neutron": True,
    "cinder": False,
    "swift": False,
    "horizon": False,
}


@dataclass(frozen=True, slots=True)
class Flag:
    """One Tempest option dcn sets against its default, and why."""

    section: str
    option: str
    value: bool
    reason: str


#: features nova's fake driver or the lab cannot offer (docs/operate.md lists each)
FEATURE_FLAGS: tuple[Flag, ...] = (
    Flag(
        "validation",
        "run_validation",
        False,
        "the fake driver boots no guest: nothing answers ssh or ping",
    ),
    Flag(
        "compute-feature-enabled",
        "console_output",
        False,
        "the fake driver returns a fixed 3-line console; Tempest wants a guest's boot log",
    ),
    Flag(
        "compute-feature-enabled",
        "snapshot",
        False,
        "the fake driver uploads no image data: a snapshot's image never becomes active",
    ),
    Flag(
        "compute-feature-enabled",
        "shelve",
        False,
        "shelving is a snapshot (see snapshot), unshelving boots from that image",
    ),
    Flag(
        "compute-feature-enabled",
        "shelve_migrate",
        False,
        "shelving is off (see shelve)",
    ),
    Flag(
        "compute-feature-enabled",
        "resize",
        False,
        "a resize moves the server to another compute, in the lab another site and AZ, "
        "and the fake driver has no disk to move",
    ),
    Flag(
        "compute-feature-enabled",
        "cold_migration",
        False,
        "a migration leaves the site (storage is ephemeral at the edge, one site per AZ)",
    ),
    Flag(
        "compute-feature-enabled",
        "live_migration",
        False,
        "as cold_migration; the fake driver moves no memory either",
    ),
    Flag(
        "compute-feature-enabled",
        "live_migrate_back_and_forth",
        False,
        "live migration is off",
    ),
    Flag(
        "compute-feature-enabled",
        "block_migration_for_live_migration",
        False,
        "live migration is off",
    ),
    Flag(
        "compute-feature-enabled",
        "interface_attach",
        False,
        "the fake driver plugs no VIF: OVN never reports the port up, Tempest waits for ACTIVE",
    ),
    Flag(
        "compute-feature-enabled",
        "change_password",
        False,
        "no guest agent takes a password",
    ),
    Flag(
        "compute-feature-enabled",
        "vnc_console",
        False,
        "no console proxy is deployed",
    ),
    Flag(
        "compute-feature-enabled",
        "spice_console",
        False,
        "no console proxy is deployed",
    ),
    Flag(
        "compute-feature-enabled",
        "serial_console",
        False,
        "no console proxy is deployed",
    ),
    Flag(
        "compute-feature-enabled",
        "attach_encrypted_volume",
        False,
        "no block storage (cinder) is deployed",
    ),
    Flag(
        "network-feature-enabled",
        "floating_ips",
        False,
        "no external network: a floating IP needs one",
    ),
    Flag(
        "network-feature-enabled",
        "ipv6",
        False,
        "the goal's network tests are IPv4; IPv6 project subnets are not configured by dcn",
    ),
)


@dataclass(frozen=True, slots=True)
class TempestInputs:
    """What the renderer needs of the cloud; `run` discovers it, tests make it up."""

    #: keystone's URL without a version (the EndpointMap's ``uri_no_suffix``)
    auth_url: str
    region: str
    admin_password: str = field(repr=False)
    image_ref: str
    image_ref_alt: str
    flavor_ref: str
    flavor_ref_alt: str
    #: Tempest's own files (logs, locks) live under this workspace directory
    workspace: str
    #: neutron extension aliases the cloud has (``conn.network.extensions()``)
    network_extensions: tuple[str, ...] = ()
    #: a network servers may use when Tempest makes none (a shared workload network)
    fixed_network: str | None = None
    #: neutron gives projects networks of their own (a project network type is set);
    #: without, Tempest cannot make a network per test project
    project_networks: bool = True
    admin_username: str = "admin"
    admin_project: str = "admin"
    admin_domain: str = "Default"


def _value(value: object) -> str:
    """An option's value as oslo.config reads it: lists comma-joined, ``$`` doubled
    (oslo.config substitutes ``$name``: a password holding ``$`` would change)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_value(v) for v in value)
    return str(value).replace("$", "$$")


def sections(inputs: TempestInputs) -> dict[str, dict[str, object]]:
    """Every section and option dcn sets, as data (`render` writes it)."""
    extensions = sorted(set(inputs.network_extensions))
    conf: dict[str, dict[str, object]] = {
        "DEFAULT": {
            "log_dir": f"{inputs.workspace}/logs",
            "log_file": "tempest.log",
            "use_stderr": False,
        },
        "oslo_concurrency": {"lock_path": f"{inputs.workspace}/tempest_lock"},
        "auth": {
            "use_dynamic_credentials": True,
            "create_isolated_networks": inputs.project_networks,
            "admin_username": inputs.admin_username,
            "admin_project_name": inputs.admin_project,
            "admin_password": inputs.admin_password,
            "admin_domain_name": inputs.admin_domain,
        },
        "identity": {
            "uri_v3": inputs.auth_url.rstrip("/") + "/v3",
            "region": inputs.region,
            "v3_endpoint_type": ENDPOINT_TYPE,
        },
        "compute": {
            "image_ref": inputs.image_ref,
            "image_ref_alt": inputs.image_ref_alt,
            "flavor_ref": inputs.flavor_ref,
            "flavor_ref_alt": inputs.flavor_ref_alt,
            "endpoint_type": ENDPOINT_TYPE,
            # nova's microversions up to its newest: the aggregate and flavor tests of
            # later versions run too
            "max_microversion": "latest",
        },
        "compute-feature-enabled": {
            # nova sanitises host names from FQDNs since Wallaby
            "hostname_fqdn_sanitization": True,
            "scheduler_enabled_filters": list(NOVA_FILTERS),
        },
        "image": {"endpoint_type": ENDPOINT_TYPE},
        "network": {"endpoint_type": ENDPOINT_TYPE},
        "network-feature-enabled": {
            # only what the cloud has: Tempest skips tests of missing extensions
            "api_extensions": extensions,
            "port_security": "port-security" in extensions,
        },
        "placement": {"endpoint_type": ENDPOINT_TYPE},
        "validation": {},
        "service_available": dict(SERVICES),
    }
    if inputs.fixed_network:
        conf["compute"]["fixed_network_name"] = inputs.fixed_network
    for flag in FEATURE_FLAGS:
        conf[flag.section][flag.option] = flag.value
    return conf


def render(inputs: TempestInputs) -> str:
    """tempest.conf's text. It holds the admin password: write it 0600 only."""
    lines = [
        "# Written by 'dcn verify' from the deployment; rewritten on every run.",
        "# Holds the admin password: keep it 0600. Options dcn turns off, and why:",
        *(f"#   [{f.section}] {f.option}: {f.reason}" for f in FEATURE_FLAGS),
    ]
    for name, options in sections(inputs).items():
        lines += ["", f"[{name}]"]
        for key, value in options.items():
            text = _value(value)
            if unsafe_char(text) is not None:  # a name from the cloud: never shown
                raise DcnError(
                    f"cannot write tempest.conf: [{name}] {key} from the cloud holds a "
                    "line break or control character",
                    hint="rename the image, flavor or network it names (one line each)",
                )
            lines.append(f"{key} = {text}")
    return join_lines(lines, "tempest.conf")
