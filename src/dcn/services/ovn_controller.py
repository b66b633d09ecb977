"""ovn-controller on a compute (Debian's ovn-host): makes the node an OVN chassis.

It reads its settings from the local Open vSwitch database (written by the ``ovs``
service's ``chassis`` step), registers the chassis in the southbound database and
programs ``br-int``. Debian's ``ovn-host.service`` groups it (``PartOf=``); dcn
starts it after Open vSwitch.
"""

from __future__ import annotations

from dcn.plan.types import FileSpec, ProcessSpec
from dcn.services.base import CatalogService, RenderContext
from dcn.services.render import file_spec

UNIT = "ovn-host.service"


DEFAULTS = "/etc/default/ovn-host"


def files(ctx: RenderContext) -> dict[str, FileSpec]:
    """ovn-ctl's options for ovn-controller: none beyond Debian's (its settings live in
    the local Open vSwitch database); dcn's file, so a change restarts it."""
    return {DEFAULTS: file_spec("# managed by dcn: ovn-ctl options\nOVN_CTL_OPTS=''\n")}


def processes(ctx: RenderContext) -> tuple[ProcessSpec, ...]:
    return (ProcessSpec(name="ovn-controller", packaged_unit=UNIT, group=True),)


SERVICE = CatalogService(
    name="ovn_controller",
    render_files=files,
    render_processes=processes,
    tripleo=("ovn_controller",),
    packages=("ovn-host",),
    packaged_units=(UNIT,),
    needs=("ovs",),
)
