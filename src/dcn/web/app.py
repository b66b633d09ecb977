"""The web application: routes, templates (Jinja, autoescaped), static files, and the
guard that every request passes (`dcn.web.security`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from dcn.errors import DcnError
from dcn.fleetstatus import ZoneCounts, zone_counts
from dcn.health import ago
from dcn.web import pages
from dcn.web.security import Guard
from dcn.web.snapshot import FleetCache
from dcn.workspace import Workspace

HERE = Path(__file__).resolve().parent


def _slug(value: object) -> str:
    """A CSS class from a status ("not planned" -> "not-planned")."""
    return "".join(c if c.isalnum() else "-" for c in str(value).lower())


def _ago(when: datetime | str | None) -> str:
    if when is None:
        return "-"
    return ago(datetime.fromisoformat(when) if isinstance(when, str) else when)


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value a page shows is text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["slug"] = _slug
    env.filters["ago"] = _ago
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S") if d else "-"
    return Jinja2Templates(env=env)


def _problem(request: Request, status: int, message: str, hint: str = "") -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "error.html",
        {"deployment": "", "status": status, "message": message, "hint": hint},
        status_code=status,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _problem(request, exc.status_code, str(exc.detail))


async def _dcn_error(request: Request, exc: Exception) -> Response:
    """The description or the store has a problem (edited while serving): say what,
    as the CLI would, without a traceback."""
    assert isinstance(exc, DcnError)
    return _problem(request, 503, str(exc), exc.hint)


def create_app(
    ws: Workspace,
    *,
    token: str | None = None,
    hosts: set[str] | None = None,
    max_age: float = 2.0,
    counts: Callable[[Workspace], ZoneCounts] | None = zone_counts,
    warm: bool = True,
) -> Starlette:
    """The view of `ws`. `token`: required on every request; `hosts`: the Host headers
    answered (None: any; `dcn serve` on loopback passes its own); `counts`: how the
    API's per-AZ counts are had (None: not asked); `warm`: read the fleet at start."""
    cache = FleetCache(ws, max_age=max_age, counts=counts)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if warm:
            cache.get()  # the first page is served from a fleet read before any request
        yield
        cache.stop()

    def home(_request: Request) -> Response:
        return RedirectResponse("/fleet", 303)

    def favicon(_request: Request) -> Response:
        """Browsers ask for /favicon.ico whatever the page says (a 404 is a console error)."""
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    routes: list[Any] = [
        Route("/", home),
        Route("/favicon.ico", favicon),
        Route("/fleet", pages.fleet),
        Route("/fleet/rows", pages.fleet_rows),
        Route("/fleet.json", pages.fleet_json),
        Route("/topology", pages.topology_page),
        Route("/topology.svg", pages.topology_svg),
        Route("/sites/{name}", pages.site),
        Route("/sites/{name}/body", pages.site_body),
        Route("/drills", pages.drills),
        Route("/drills/compare", pages.drill_compare),
        Route("/drills/compare.svg", pages.drill_compare_svg),
        Route("/drills/{id}", pages.drill),
        Route("/drills/{id}/timeline.svg", pages.drill_timeline),
        Route("/rollouts", pages.rollouts),
        Route("/rollouts/{id}", pages.rollout),
        Route("/rollouts/{id}/body", pages.rollout_body),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, token=token, hosts=hosts)],
        exception_handlers={HTTPException: _http_error, DcnError: _dcn_error},
        lifespan=lifespan,
    )
    app.state.cache = cache
    app.state.templates = templates()
    return app
