"""The pages: each reads the newest fleet snapshot or the state store and renders a
template. Nothing here writes to the store or reaches a host."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dcn.plan.serialize import plan_from_json
from dcn.web import fleet as fleet_query
from dcn.web import topology
from dcn.web.snapshot import FleetCache, Snapshot

#: generations of a site whose events its page shows
DEPLOYS_SHOWN = 6
#: nodes listed on a site's page (a 10,000-node site says how many more)
NODES_SHOWN = 500
TOPOLOGY_PER_PAGE = 8
ROLLOUT_SITES_PER_PAGE = 200


def _cache(request: Request) -> FleetCache:
    return request.app.state.cache


def _render(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> Response:
    templates = request.app.state.templates
    snap: Snapshot | None = context.get("snap")
    return templates.TemplateResponse(
        request,
        name,
        {
            "deployment": snap.deployment if snap else "",
            "problem": _cache(request).problem,
            **context,
        },
        status_code=status,
    )


def _json(value: Any) -> str:
    """JSON with <, > and & as escapes: never markup, whatever reads it."""
    text = json.dumps(value, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _live(response: Response, live: bool) -> Response:
    """Tell the page's script whether to keep polling (a rollout or deploy that ended
    does not change any more)."""
    response.headers["x-dcn-live"] = "1" if live else "0"
    return response


def _svg(text: str, name: str) -> Response:
    """A picture for an <img> (where it shows as drawn); opened on its own it is saved,
    not shown as a page (its inline styles are the drawing's, outside the pages' CSP)."""
    disposition = f'attachment; filename="{name}.svg"'
    return Response(text, media_type="image/svg+xml", headers={"content-disposition": disposition})


def _number(request: Request, name: str, default: int = 1) -> int:
    try:
        return max(1, int(request.query_params.get(name, default)))
    except ValueError:
        return default


# -- fleet ----------------------------------------------------------------------------


def _fleet_context(request: Request) -> dict[str, Any]:
    snap = _cache(request).get()
    query = fleet_query.FleetQuery.parse(request.query_params)
    return {
        "snap": snap,
        "page": fleet_query.select(snap.rows, query),
        "query": query,
        "kinds": fleet_query.choices(snap.rows, "kind"),
        "statuses": fleet_query.choices(snap.rows, "status"),
        "per_page": fleet_query.PER_PAGE,
        "stale_choices": fleet_query.STALE,
        "reach_choices": fleet_query.REACH,
        "reach_class": fleet_query.reach_class,
        "columns": [
            ("site", "site"),
            ("kind", "kind"),
            ("az", "AZ"),
            ("status", "status"),
            ("generation", "gen"),
            ("export", "consumed export"),
            ("stale", "stale"),
            ("computes", "computes up/down"),
            ("servers", "servers"),
            ("last_seen", "last seen"),
            ("reach", "reach"),
        ],
    }


def fleet(request: Request) -> Response:
    return _render(request, "fleet.html", _fleet_context(request))


def fleet_rows(request: Request) -> Response:
    """The live part of the fleet page (its table and pager), polled by app.js."""
    return _render(request, "_fleet_table.html", _fleet_context(request))


def fleet_json(request: Request) -> Response:
    """One page of rows for scripts (the same filters as the page)."""
    ctx = _fleet_context(request)
    page: fleet_query.FleetPage = ctx["page"]
    body = {
        "deployment": ctx["snap"].deployment,
        "at": ctx["snap"].at.isoformat(timespec="seconds"),
        "matched": page.matched,
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "rows": page.rows,
    }
    return Response(_json(body), media_type="application/json")


# -- topology -------------------------------------------------------------------------


def _topology_boxes(request: Request) -> tuple[Snapshot, list[topology.SiteBox], dict[str, Any]]:
    snap = _cache(request).get()
    assert snap.ws is not None
    q = request.query_params.get("q", "").strip().lower()[:200]
    rows = [r for r in snap.rows if not q or q in r["site"].lower()]
    pages = max(1, -(-len(rows) // TOPOLOGY_PER_PAGE))
    page = min(_number(request, "page"), pages)
    shown = rows[(page - 1) * TOPOLOGY_PER_PAGE : page * TOPOLOGY_PER_PAGE]
    boxes = []
    for row in shown:  # a page of sites: one small query each, never the whole fleet
        record = snap.ws.store.latest_generation(snap.deployment, row["site"])
        plan = plan_from_json(record.plan_json()) if record else None
        boxes.append(
            topology.site_box(row["site"], row["kind"], row["az"], plan, row["site"] in snap.cut)
        )
    paging = {"q": q, "page": page, "pages": pages, "matched": len(rows)}
    return snap, boxes, paging


def topology_page(request: Request) -> Response:
    snap, boxes, paging = _topology_boxes(request)
    picture = topology.svg(snap.deployment, boxes, len(snap.rows))
    return _render(request, "topology.html", {"snap": snap, "picture": picture, **paging})


def topology_svg(request: Request) -> Response:
    snap, boxes, _ = _topology_boxes(request)
    return _svg(topology.svg(snap.deployment, boxes, len(snap.rows)), "topology")


# -- one site -------------------------------------------------------------------------


def site(request: Request) -> Response:
    return _render(request, "site.html", _site_context(request))


def site_body(request: Request) -> Response:
    """The live part of a site's page (polled while the site deploys)."""
    context = _site_context(request)
    return _live(_render(request, "_site_body.html", context), context["live"])


def _site_context(request: Request) -> dict[str, Any]:
    name = request.path_params["name"]
    snap = _cache(request).get()
    row = snap.row(name)
    if row is None or snap.ws is None:
        raise HTTPException(404, f"no site named {name} in {snap.deployment}")
    store, dep = snap.ws.store, snap.deployment
    latest = store.latest_generation(dep, name)
    deployed = store.deployed_generations(dep).get(name)
    plan = plan_from_json(latest.plan_json()) if latest else None
    networks = sorted({net for n in plan.nodes for net in n.addresses}) if plan else []
    events = store.events(dep, name, 400)
    by_generation: dict[int | None, list[Any]] = {}
    for e in reversed(events):  # newest first
        by_generation.setdefault(e.generation, []).append(e)
    deploys = list(by_generation.items())[:DEPLOYS_SHOWN]
    return {
        "snap": snap,
        "row": row,
        "latest": latest,
        "deployed": deployed,
        "plan": plan,
        "nodes": plan.nodes[:NODES_SHOWN] if plan else (),
        "more_nodes": max(0, len(plan.nodes) - NODES_SHOWN) if plan else 0,
        "networks": networks,
        "deploys": deploys,
        # its page follows a deploy under way (and stops when it has ended)
        "live": row["status"] == "deploying",
    }


# -- drills ---------------------------------------------------------------------------


def _drill(request: Request, key: str) -> dict[str, Any]:
    snap = _cache(request).get()
    assert snap.ws is not None
    try:
        drill_id = int(request.path_params.get(key) or request.query_params.get(key, ""))
    except ValueError:
        raise HTTPException(404, "drills are named by their number") from None
    found = snap.ws.store.drill(snap.deployment, drill_id)
    if found is None:
        raise HTTPException(404, f"no drill {drill_id} of {snap.deployment}")
    return {**found, "report": _report(found["report"], found["scenario"])}


#: what a page reads of a report; an older (or hand-made) report may lack some
_REPORT = {
    "params": {},
    "settings": {},
    "timeline": [],
    "attempts": [],
    "figures": {},
    "claims": [],
}


def _report(report: Any, scenario: str) -> dict[str, Any]:
    """The report with every part a page reads (the pictures read the stored one)."""
    out = {**_REPORT, "scenario": scenario}
    if isinstance(report, dict):
        out.update({k: v for k, v in report.items() if v is not None})
    return out


def drills(request: Request) -> Response:
    from dcn.drill import figure_text

    snap = _cache(request).get()
    assert snap.ws is not None
    found = [
        {**d, "report": _report(d["report"], d["scenario"])}
        for d in snap.ws.store.drills(snap.deployment, 200)
    ]
    return _render(request, "drills.html", {"snap": snap, "drills": found, "figure": figure_text})


def drill(request: Request) -> Response:
    from dcn.drill import figure_text

    found = _drill(request, "id")
    return _render(
        request,
        "drill.html",
        {
            "snap": _cache(request).get(),
            "drill": found,
            "r": found["report"],
            "figure": figure_text,
        },
    )


def drill_timeline(request: Request) -> Response:
    from dcn.pictures.timeline import timeline_svg

    found = _drill(request, "id")
    return _svg(timeline_svg(found["report"]), f"drill-{found['id']}")


def drill_compare(request: Request) -> Response:
    from dcn.drill import compare_rows

    a, b = _drill(request, "a"), _drill(request, "b")
    return _render(
        request,
        "compare.html",
        {
            "snap": _cache(request).get(),
            "a": a,
            "b": b,
            "rows": compare_rows(a["report"], b["report"]),
        },
    )


def drill_compare_svg(request: Request) -> Response:
    from dcn.pictures.timeline import compare_svg

    a, b = _drill(request, "a"), _drill(request, "b")
    return _svg(compare_svg(a["report"], b["report"]), f"drills-{a['id']}-{b['id']}")


# -- rollouts -------------------------------------------------------------------------


def rollouts(request: Request) -> Response:
    snap = _cache(request).get()
    assert snap.ws is not None
    found = snap.ws.store.rollouts(snap.deployment, 100)
    return _render(request, "rollouts.html", {"snap": snap, "rollouts": found})


def _rollout_context(request: Request) -> dict[str, Any]:
    from dcn.rollout.report import next_command, site_state, totals

    snap = _cache(request).get()
    assert snap.ws is not None
    try:
        rollout_id = int(request.path_params["id"])
    except ValueError:
        raise HTTPException(404, "rollouts are named by their number") from None
    record = snap.ws.store.rollout(snap.deployment, rollout_id)
    if record is None:
        raise HTTPException(404, f"no rollout {rollout_id} of {snap.deployment}")
    states = [(s, site_state(record, s)) for s in record.sites]
    waves: dict[int, dict[str, int]] = {}
    for s, state in states:
        counts = waves.setdefault(s.wave, {})
        counts[state] = counts.get(state, 0) + 1
    pages = max(1, -(-len(states) // ROLLOUT_SITES_PER_PAGE))
    page = min(_number(request, "page"), pages)
    per = ROLLOUT_SITES_PER_PAGE
    return {
        "snap": snap,
        "record": record,
        "totals": totals(record),
        "next": next_command(record),
        "waves": sorted(waves.items()),
        "sites": states[(page - 1) * per : page * per],
        "page": page,
        "pages": pages,
        "running": record.status.value == "running",
    }


def rollout(request: Request) -> Response:
    return _render(request, "rollout.html", _rollout_context(request))


def rollout_body(request: Request) -> Response:
    context = _rollout_context(request)
    return _live(_render(request, "_rollout_body.html", context), context["running"])
