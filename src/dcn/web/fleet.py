"""The fleet table's query: filter, sort and page every site's row on the server, from
query parameters, so a page of 5,000 sites sends one page of rows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

PER_PAGE = (25, 50, 100, 200, 500)
#: column -> how its rows compare (None sorts last in either direction)
SORTS = {
    "site": lambda r: r["site"],
    "kind": lambda r: r["kind"],
    "az": lambda r: r["az"],
    "status": lambda r: r["status"],
    "generation": lambda r: r["generation"],
    "export": lambda r: r["export"],
    "stale": lambda r: r["stale"],
    "computes": lambda r: r["computes_down"],
    "servers": lambda r: r["servers"],
    "last_seen": lambda r: r["last_seen"],
    "reach": lambda r: r["reach"],
}
STALE = ("", "yes", "no")
REACH = ("", "reachable", "unreachable", "unknown")


def reach_class(row: Mapping[str, Any]) -> str:
    """reachable | unreachable | unknown (not checked), as the filter names them."""
    return {True: "reachable", False: "unreachable"}.get(row["reachable"], "unknown")


@dataclass(frozen=True, slots=True)
class FleetQuery:
    #: a part of the site's name or AZ
    q: str = ""
    kind: str = ""
    status: str = ""
    stale: str = ""
    reach: str = ""
    sort: str = "site"
    desc: bool = False
    page: int = 1
    per: int = 50

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> FleetQuery:
        """From query parameters; a value out of range falls back to its default (a
        hand-edited address still shows a page)."""

        def number(name: str, default: int) -> int:
            try:
                return int(params.get(name, default))
            except ValueError:
                return default

        per = number("per", 50)
        return cls(
            q=params.get("q", "").strip()[:200],
            kind=params.get("kind", "")[:64],
            status=params.get("status", "")[:64],
            stale=params.get("stale", "") if params.get("stale", "") in STALE else "",
            reach=params.get("reach", "") if params.get("reach", "") in REACH else "",
            sort=params.get("sort", "site") if params.get("sort") in SORTS else "site",
            desc=params.get("dir") == "desc",
            page=max(1, number("page", 1)),
            per=per if per in PER_PAGE else 50,
        )

    def params(self, **changes: Any) -> str:
        """The query string of this query with `changes` (only what differs from the
        defaults: short, readable links)."""
        q = replace(self, **changes)
        default = FleetQuery()
        out = {}
        for f in fields(FleetQuery):
            value = getattr(q, f.name)
            if value != getattr(default, f.name):
                out["dir" if f.name == "desc" else f.name] = "desc" if f.name == "desc" else value
        return urlencode(out)

    def sorted_by(self, column: str) -> str:
        """The link of a column's header: sort by it, or flip the direction."""
        desc = not self.desc if self.sort == column else False
        return self.params(sort=column, desc=desc, page=1)

    def matches(self, row: Mapping[str, Any]) -> bool:
        if self.q:
            needle = self.q.lower()
            if needle not in row["site"].lower() and needle not in str(row["az"]).lower():
                return False
        if self.kind and row["kind"] != self.kind:
            return False
        if self.status and row["status"] != self.status:
            return False
        if self.stale and row["stale"] != (self.stale == "yes"):
            return False
        return not (self.reach and reach_class(row) != self.reach)


@dataclass(frozen=True, slots=True)
class FleetPage:
    rows: list[dict[str, Any]]
    #: sites that match the filters, and sites in all
    matched: int
    total: int
    page: int
    pages: int
    query: FleetQuery

    @property
    def first(self) -> int:
        return (self.page - 1) * self.query.per + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def select(rows: Sequence[dict[str, Any]], query: FleetQuery) -> FleetPage:
    """The page of rows the query asks for (a page past the end shows the last one)."""
    found = [r for r in rows if query.matches(r)]
    key = SORTS[query.sort]
    present = [r for r in found if key(r) is not None]
    absent = [r for r in found if key(r) is None]
    present.sort(key=lambda r: (key(r), r["site"]), reverse=query.desc)
    ordered = present + absent
    pages = max(1, math.ceil(len(ordered) / query.per))
    page = min(query.page, pages)
    start = (page - 1) * query.per
    return FleetPage(
        rows=ordered[start : start + query.per],
        matched=len(found),
        total=len(rows),
        page=page,
        pages=pages,
        query=replace(query, page=page),
    )


def choices(rows: Sequence[Mapping[str, Any]], column: str) -> list[str]:
    """The values a column holds, for a filter's choices."""
    return sorted({str(r[column]) for r in rows})
