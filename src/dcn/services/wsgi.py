"""WSGI APIs under gunicorn, configured by a ``gunicorn.conf.py`` in the working directory.

Keystone, nova and neutron parse ``sys.argv`` with oslo.config, so gunicorn gets no
command-line arguments at all; every setting is in the file (lab notes). gunicorn 26
shares a control socket per user unless it is disabled. Keep-alive is off: a 2 s
keep-alive raced with 2 s polling clients (lab notes), and with gunicorn 26's gthread
worker a reused connection returned one response's body ahead of the next response's
status line (seen here: nova-scheduler's two placement calls -> BadStatusLine ->
"No valid host"). One connection per request costs little on an internal network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcn.plan.types import FileSpec, ProcessSpec
from dcn.services.base import Endpoint, RenderContext
from dcn.services.common import BACKENDS, api_listen, api_port
from dcn.services.render import file_spec

#: seconds a stopping API gives its workers (less than the units' TimeoutStopSec)
GRACEFUL_SECONDS = 10


@dataclass(frozen=True, slots=True)
class WsgiApi:
    """One API: its WSGI callable, where it listens, and its config directory."""

    #: process name, as its unit and logs show it
    name: str
    #: ``module:callable``
    app: str
    #: the service's EndpointMap row: the API listens on every address its entries
    #: (Internal, Public, Admin) name that is on the node; the Internal entry's port
    #: (the declared one unless the outputs say otherwise) is the one health checks use
    endpoint: Endpoint
    #: directory holding the service's config
    confdir: str
    workers: int = 1
    #: environment for the workers (where the service finds its config files)
    env: dict[str, str] = field(default_factory=dict)
    #: where gunicorn runs and finds its gunicorn.conf.py (empty: `confdir`)
    rundir: str = ""
    #: other APIs of the same program this process serves, each on its own port (its
    #: WSGI callable tells them apart: nova's compute and metadata APIs)
    also: tuple[Endpoint, ...] = ()

    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def workdir(self) -> str:
        return self.rundir or self.confdir

    @property
    def conf_path(self) -> str:
        return f"{self.workdir}/gunicorn.conf.py"

    def conf(self, ctx: RenderContext) -> FileSpec:
        settings: dict[str, object] = {
            "wsgi_app": self.app,
            "bind": [b for e in (self.endpoint, *self.also) for b in api_listen(ctx, e)],
            "proc_name": self.name,
            # a clustered control plane has a worker per controller behind haproxy:
            # one each keeps three controllers' memory near one's
            "workers": 1 if ctx.site.clustered else self.workers,
            "worker_class": "gthread",
            "threads": 4,
            "keepalive": 0,
            "timeout": 120,
            # bounded graceful stop: on SIGTERM the master waits this long for its
            # workers, then kills them. Inside the unit's 20 s stop timeout, because a
            # neutron API worker ignores SIGTERM once ML2/OVN's hash ring runs (oslo's
            # signal handler replaces gunicorn's): systemd then killed the master alone
            # and, unable to kill a container's cgroup, left the worker to block reboots
            "graceful_timeout": GRACEFUL_SECONDS,
            "control_socket_disable": True,
            "accesslog": "-",
            "errorlog": "-",
        }
        if self.env:
            settings["raw_env"] = [f"{k}={v}" for k, v in sorted(self.env.items())]
        header = (
            f"# gunicorn settings for {self.name}, managed by dcn. Run `gunicorn` with no\n"
            "# arguments in this directory: the service parses sys.argv with oslo.config.\n"
        )
        # repr of plain str/int/bool/list data is exact Python source
        return file_spec(header + "".join(f"{k} = {v!r}\n" for k, v in settings.items()))

    def files(self, ctx: RenderContext) -> dict[str, FileSpec]:
        return {self.conf_path: self.conf(ctx)}

    def process(self, ctx: RenderContext) -> ProcessSpec:
        return ProcessSpec(
            name=self.name,
            command=(f"{ctx.venv}/bin/gunicorn",),
            workdir=self.workdir,
            health_port=api_port(ctx, self.endpoint.internal, self.port),
            after=BACKENDS,
        )
