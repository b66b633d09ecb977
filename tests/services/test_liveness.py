"""The description's liveness settings reach every file that reads them."""

from __future__ import annotations

import dataclasses

from dcn.model.description import Liveness
from dcn.services.base import RenderContext
from dcn.services.catalog import service
from tests.services.conftest import parse_ini

TUNED = Liveness(
    report_interval=2,
    service_down_time=6,
    heartbeat_timeout_threshold=10,
    heartbeat_rate=2,
    reconnect_interval_max=2,
)


def tuned(ctx: RenderContext) -> RenderContext:
    return dataclasses.replace(
        ctx, deployment=ctx.deployment.model_copy(update={"liveness": TUNED})
    )


def test_defaults_are_nova_and_oslo_messaging_defaults(edge: RenderContext) -> None:
    conf = parse_ini(service("nova_compute").files(edge)["/etc/nova/nova.conf"].content)
    assert conf["DEFAULT"]["report_interval"] == "10"
    assert conf["DEFAULT"]["service_down_time"] == "60"
    assert conf["oslo_messaging_rabbit"]["heartbeat_timeout_threshold"] == "60"
    assert conf["oslo_messaging_rabbit"]["rabbit_interval_max"] == "30"


def test_tuned_settings_reach_compute_controller_and_broker(
    edge: RenderContext, controller: RenderContext
) -> None:
    compute = parse_ini(service("nova_compute").files(tuned(edge))["/etc/nova/nova.conf"].content)
    assert compute["DEFAULT"]["report_interval"] == "2"
    assert compute["oslo_messaging_rabbit"]["heartbeat_rate"] == "2"
    assert compute["oslo_messaging_rabbit"]["rabbit_interval_max"] == "2"
    ctl = parse_ini(
        service("nova_scheduler").files(tuned(controller))["/etc/nova/nova.conf"].content
    )
    assert ctl["DEFAULT"]["service_down_time"] == "6"
    rabbit = service("rabbitmq").files(tuned(controller))["/etc/rabbitmq/rabbitmq.conf"].content
    assert "heartbeat = 10" in rabbit
