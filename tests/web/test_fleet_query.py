"""The fleet table's query on 5,000 rows: filters, sorting (unknown values last either
way), paging bounds, and links that keep the view."""

from __future__ import annotations

from typing import Any

from dcn.web.fleet import FleetQuery, choices, select


def rows(n: int = 5000) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append(
            {
                "site": f"dcn{i}",
                "kind": "edge",
                "az": f"az{i % 7}",
                "status": ("deployed", "planned", "failed")[i % 3],
                "generation": i % 5 + 1,
                "export": None,
                "stale": i % 10 == 0,
                "computes_up": None if i % 2 else 2,
                "computes_down": None if i % 2 else i % 3,
                "servers": None,
                "last_seen": None,
                "reachable": (True, False, None)[i % 3],
                "reach": ("reachable", "unreachable: site cut", "not checked yet")[i % 3],
            }
        )
    out.append({**out[0], "site": "central", "kind": "control-plane", "az": "central"})
    return out


def test_one_page_of_five_thousand() -> None:
    page = select(rows(), FleetQuery())
    assert (page.matched, page.total, page.pages, len(page.rows)) == (5001, 5001, 101, 50)
    assert (page.first, page.last) == (1, 50)
    assert page.rows[0]["site"] == "central"  # by name
    last = select(rows(), FleetQuery(page=10_000))
    assert last.page == 101 and len(last.rows) == 1 and last.first == 5001


def test_filters() -> None:
    q = FleetQuery(q="DCN42", status="planned", reach="unreachable")
    found = select(rows(), q).rows
    assert found and all(
        "dcn42" in r["site"] and r["status"] == "planned" and r["reachable"] is False for r in found
    )
    assert select(rows(), FleetQuery(kind="control-plane")).matched == 1
    assert select(rows(), FleetQuery(stale="yes")).matched == 501  # central copies dcn0
    assert select(rows(), FleetQuery(reach="unknown")).matched == 1666
    assert select(rows(), FleetQuery(q="az3")).matched == 714  # the AZ matches too


def test_unknown_values_sort_last_both_ways() -> None:
    up = select(rows(), FleetQuery(sort="computes", per=500, page=11)).rows
    down = select(rows(), FleetQuery(sort="computes", desc=True, per=500, page=11)).rows
    assert up[-1]["computes_down"] is None and down[-1]["computes_down"] is None
    first = select(rows(), FleetQuery(sort="computes", desc=True)).rows[0]
    assert first["computes_down"] == 2


def test_parse_falls_back_on_nonsense_and_links_keep_the_view() -> None:
    q = FleetQuery.parse({"page": "-3", "per": "7", "sort": "rm -rf", "dir": "desc", "q": " x "})
    assert (q.page, q.per, q.sort, q.desc, q.q) == (1, 50, "site", True, "x")
    q = FleetQuery(q="dcn 1&x", status="failed", page=3)
    assert q.params() == "q=dcn+1%26x&status=failed&page=3"
    assert q.sorted_by("site") == "q=dcn+1%26x&status=failed&dir=desc"  # flips, page 1
    assert q.sorted_by("kind") == "q=dcn+1%26x&status=failed&sort=kind"
    assert FleetQuery.parse({"q": "dcn 1&x", "status": "failed", "page": "3"}) == q
    assert choices(rows(30), "status") == ["deployed", "failed", "planned"]
