"""Nova's metadata API on the controllers (TripleO's ``nova_metadata``), for the sites
that give instances a route to it (``instance_metadata.metadata_route``).

An instance asks ``169.254.169.254``; the OVN metadata agent on its compute proxies the
request here over the internal API network with the instance's id signed with the
shared secret (``[neutron] metadata_proxy_shared_secret`` in the controllers' nova.conf,
rendered by `dcn.services.nova`). The API is internal only: no keystone catalog entry.

It runs under gunicorn like nova-api but from its own directory (nova-api's
gunicorn.conf.py is in /etc/nova): nova's WSGI loader reads the files
``OS_NOVA_CONFIG_FILES`` names under ``OS_NOVA_CONFIG_DIR`` and loads the paste app named
``metadata`` from the first, here a pipeline file of the metadata app alone; the second
is the controllers' shared nova.conf.
"""

from __future__ import annotations

from dcn.plan.types import FileSpec, ProcessSpec
from dcn.services import nova
from dcn.services.base import INTERNAL, CatalogService, Endpoint, Probe, RenderContext
from dcn.services.render import file_spec
from dcn.services.wsgi import WsgiApi

#: TripleO's NovaMetadata: the metadata API, internal only
ENDPOINT = Endpoint("NovaMetadata", 8775, interfaces=(INTERNAL,))
RUNDIR = f"{nova.CONFDIR}/metadata"
PASTE = f"{RUNDIR}/api-paste.ini"
#: the metadata app behind the proxy headers, as nova's own api-paste.ini has it
#: (without CORS: no browser calls it)
PASTE_TEXT = """\
# managed by dcn: nova's metadata API as nova's WSGI loader reads it (app "metadata")
[composite:metadata]
use = egg:Paste#urlmap
/: meta

[pipeline:meta]
pipeline = http_proxy_to_wsgi metaapp

[app:metaapp]
paste.app_factory = nova.api.metadata.handler:MetadataRequestHandler.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory
"""

API = WsgiApi(
    name="nova-api-metadata",
    app="nova.wsgi.metadata:application",
    endpoint=ENDPOINT,
    confdir=nova.CONFDIR,
    rundir=RUNDIR,
    workers=1,
    # paths relative to OS_NOVA_CONFIG_DIR; the first file holds the paste app
    env={
        "OS_NOVA_CONFIG_DIR": nova.CONFDIR,
        "OS_NOVA_CONFIG_FILES": f"{PASTE.removeprefix(nova.CONFDIR + '/')};nova.conf",
    },
)


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    return {
        **nova.control_plane_files(ctx),
        PASTE: file_spec(PASTE_TEXT),
        **API.files(ctx),
    }


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (API.process(ctx),)


SERVICE = CatalogService(
    name="nova_metadata",
    render_files=files,
    render_processes=processes,
    render_dirs=nova.dirs,
    endpoints=(ENDPOINT,),
    references=nova.CONTROL_PLANE_SECRETS,
    # what a metadata-route site's agents forward to, over the WAN
    probes=(Probe("nova-metadata", endpoint=ENDPOINT.internal),),
    needs=("nova_api",),
)
