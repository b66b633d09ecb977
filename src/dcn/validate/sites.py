"""Rules about one site as a whole (roles, HA, edge recommendations) and about the
deployment as a whole (control plane, export, liveness)."""

from __future__ import annotations

import os
from pathlib import Path

from dcn.errors import Finding
from dcn.model.description import DEPLOYED_MECHANISM, Deployment, Site
from dcn.model.loader import LoadedDescription
from dcn.model.roles import ROLES
from dcn.validate.rules import finding

#: SDN mechanisms with distributed virtual routing (``provider`` has no tenant routers);
#: of these dcn deploys ``ovn`` only (DCN405)
DVR_MECHANISMS = ("ovn", "openvswitch")


def site_findings(loaded: LoadedDescription, i: int, site: Site) -> list[Finding]:
    """One site: its roles, DVR, ha_size and the edge recommendations of the seed."""
    out: list[Finding] = []
    add = out.append
    here = ("sites", i)
    for role in site.roles:
        rd = ROLES.get(role)
        if rd is None or site.kind not in rd.kinds:
            ok = [r for r, d in ROLES.items() if site.kind in d.kinds]
            msg = f"role {role!r} cannot be used at a {site.kind} site"
            add(
                finding(
                    loaded, "DCN004", (*here, "roles", role), msg, f"use one of {', '.join(ok)}"
                )
            )
    if site.sdn.dvr and site.sdn.mechanism not in DVR_MECHANISMS:
        add(
            finding(
                loaded,
                "DCN404",
                (*here, "sdn", "dvr"),
                f"DVR needs an SDN mechanism that routes ({' or '.join(DVR_MECHANISMS)}); "
                f"this site's mechanism is {site.sdn.mechanism!r}, which dcn does not deploy",
                f"set sdn.mechanism: {DEPLOYED_MECHANISM} (the one dcn deploys; it "
                "distributes routers), or remove sdn.dvr",
            )
        )
    elif site.sdn.mechanism != DEPLOYED_MECHANISM:  # DCN404's fix says it too
        add(_mechanism(loaded, i, site.sdn.mechanism))
    controllers = site.roles.get("Controller")
    if site.ha_size is not None and (
        not site.is_control_plane or (controllers and controllers.size != site.ha_size)
    ):
        add(
            finding(
                loaded,
                "DCN007",
                (*here, "ha_size"),
                "ha_size is only for the control plane and must equal the Controller count",
                "remove ha_size, or make Controller count equal to it",
            )
        )
    if not site.is_control_plane:
        out.extend(_edge(loaded, i, site))
    return out


def _mechanism(loaded: LoadedDescription, i: int, mechanism: str) -> Finding:
    """Only ML2/OVN is deployed (DCN405): with another mechanism no port of the site's
    workloads would be bound (neutron: no driver with connectivity)."""
    msg = (
        f"sdn.mechanism {mechanism!r} is not deployed: dcn deploys ML2/OVN only "
        "(provider networks at the edge are OVN segments, see workload_networks)"
    )
    fix = (
        "set sdn.mechanism: ovn, or remove it (ovn is the default); keep "
        "sdn.tunnelling: false for provider networks only"
    )
    return finding(loaded, "DCN405", ("sites", i, "sdn", "mechanism"), msg, fix)


def deployment_findings(
    loaded: LoadedDescription, frame: Deployment, cp_index: int | None
) -> list[Finding]:
    """The deployment as a whole: its control plane, its export, its liveness settings.

    `frame` holds the deployment-wide settings and the (first) control-plane site,
    which is site `cp_index` of the description.
    """
    return [
        *_control_plane(loaded, frame, cp_index),
        *_export(loaded, frame),
        *_liveness(loaded, frame),
    ]


def _edge(loaded: LoadedDescription, i: int, site: Site) -> list[Finding]:
    """The seed's recommendations for an edge site (DCN401-403)."""
    here: tuple = ("sites", i)
    out: list[Finding] = []
    if site.sdn.tunnelling:
        msg = (
            "tunnelling SDN backends are sub-optimal at the edge (Launchpad bugs 1808594, 1808062)"
        )
        out.append(
            finding(
                loaded,
                "DCN401",
                (*here, "sdn"),
                msg,
                "use provider networks at the edge: sdn.tunnelling: false, and a segment for "
                "the site in a provider network under workload_networks",
            )
        )
    md = site.instance_metadata
    if not md.config_drive and not md.metadata_route:
        msg = "instances get no metadata: no config drive and no route to the metadata service"
        fix = "set instance_metadata.config_drive: true"
        out.append(finding(loaded, "DCN402", (*here, "instance_metadata"), msg, fix))
    if site.instance_storage != "ephemeral":
        msg = "only ephemeral instance storage is supported at the edge (seed)"
        fix = "set instance_storage: ephemeral"
        out.append(finding(loaded, "DCN403", (*here, "instance_storage"), msg, fix))
    return out


def _control_plane(loaded: LoadedDescription, frame: Deployment, i: int | None) -> list[Finding]:
    """A control plane or an export (DCN002), its cluster size (DCN301, DCN302)."""
    if i is None:
        if frame.control_plane_export is not None:
            return []
        fix = "add a site with kind: control-plane, or set control_plane_export"
        return [finding(loaded, "DCN002", ("sites",), "no control-plane site", fix)]
    cp = frame.control_plane
    assert cp is not None
    spec = cp.roles.get("Controller")
    count = spec.size if spec is not None and "Controller" in ROLES else 0
    if count == 1:
        msg = "one controller: its failure stops every API operation at every site"
        return [finding(loaded, "DCN301", ("sites", i, "roles"), msg, "set ha_size: 3")]
    if count and count % 2 == 0:
        at = ("sites", i, "ha_size") if cp.ha_size else ("sites", i, "roles", "Controller")
        return [
            finding(
                loaded,
                "DCN302",
                at,
                f"{count} controllers: MariaDB (Galera) and RabbitMQ need a majority, so a "
                f"network split into {count // 2} and {count // 2} stops both halves; "
                f"{count} tolerate no more failures than {count - 1} do",
                f"use an odd number: {count + 1} (or {count - 1}) controllers and ha_size",
            )
        ]
    return []


def export_path(loaded: LoadedDescription, ref: str) -> Path:
    """Where `control_plane_export` points: relative to the description's folder."""
    path = Path(ref)
    return path if path.is_absolute() else Path(loaded.smap.default_file).parent / path


def _export(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """control_plane_export names a readable file (DCN008): found at validate, not at plan."""
    ref = dep.control_plane_export
    if ref is None:
        return []
    path = export_path(loaded, ref)
    if path.is_file() and os.access(path, os.R_OK):
        return []
    why = "is not a file" if path.exists() else "does not exist"
    if path.is_file():
        why = "cannot be read (permissions)"
    return [
        finding(
            loaded,
            "DCN008",
            ("control_plane_export",),
            f"control_plane_export {ref!r} ({path}) {why}",
            "write the control plane's export there (`dcn export -o FILE` or TripleO's), "
            "or fix the path: it is relative to the description's folder",
        )
    ]


def _liveness(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """A service that misses one report must not be marked down (DCN501)."""
    live = dep.liveness
    if live.service_down_time >= 2 * live.report_interval:
        return []
    return [
        finding(
            loaded,
            "DCN501",
            ("liveness", "service_down_time"),
            f"service_down_time {live.service_down_time}s is under twice report_interval "
            f"{live.report_interval}s: one late report marks a healthy service down",
            f"set service_down_time to at least {2 * live.report_interval}",
        )
    ]
