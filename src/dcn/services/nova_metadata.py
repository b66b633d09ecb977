"""Nova's metadata API on the controllers (TripleO's ``nova_metadata``), for the sites
that give instances a route to it (``instance_metadata.metadata_route``).

An instance asks ``169.254.169.254``; the OVN metadata agent on its compute proxies the
request here over the internal API network with the instance's id signed with the
shared secret (``[neutron] metadata_proxy_shared_secret`` in the controllers' nova.conf,
rendered by `dcn.services.nova`). The API is internal only: no keystone catalog entry.

It has no process of its own: nova-api's process serves it on its port
(`dcn.services.nova`: ``metadata`` in nova's api-paste.ini, both APIs in one WSGI
module). This declaration holds its EndpointMap row, haproxy's listen follows from it,
and the probe every metadata-route site checks.
"""

from __future__ import annotations

from dcn.plan.types import ProcessSpec
from dcn.services import nova
from dcn.services.base import CatalogService, Probe, RenderContext

ENDPOINT = nova.METADATA_ENDPOINT


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    """None: nova-api's serves it."""
    return ()


SERVICE = CatalogService(
    name="nova_metadata",
    render_files=nova.control_plane_files,
    render_processes=processes,
    render_dirs=nova.dirs,
    endpoints=(ENDPOINT,),
    references=nova.CONTROL_PLANE_SECRETS,
    # what a metadata-route site's agents forward to, over the WAN
    probes=(Probe("nova-metadata", endpoint=ENDPOINT.internal),),
    needs=("nova_api",),
)
