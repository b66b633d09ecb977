"""The web view without a browser (Starlette's TestClient): every page from a store
filled by the planner, headers on every response, escaping of hostile text, no secret
value anywhere, paging and filters, a cut site, drift, live regions."""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import escape
from starlette.testclient import TestClient

from dcn.state.records import GenerationStatus
from dcn.web.app import create_app
from dcn.web.security import CSP
from dcn.workspace import Workspace
from tests.cli.test_status_truth import start_deploy, write_lab
from tests.web.conftest import HOSTILE, HOSTILE_STACK

PAGES = (
    "/fleet",
    "/fleet/rows",
    "/fleet.json",
    "/topology",
    "/topology.svg",
    "/sites/central",
    "/sites/dcn0",
    "/sites/dcn1",
    "/drills",
    "/drills/1",
    "/drills/2",
    "/drills/compare?a=1&b=2",
    "/rollouts",
    "/rollouts/1",
    "/rollouts/2",
    "/rollouts/2/body",
)
#: an event handler attribute of a tag (quoted attribute values are skipped whole)
HANDLER = re.compile(r'<[a-zA-Z]+(?:\s+[\w:-]+(?:="[^"]*")?)*\s+on[a-z]+=')
#: address -> content type, of the last crawl
kinds: dict[str, str] = {}
LINK = re.compile(r'(?:href|src)="(/[^"]*)"')


def crawl(client: TestClient, start: tuple[str, ...] = PAGES, limit: int = 300) -> dict[str, str]:
    """Every same-origin address the pages link to, fetched once: address -> body."""
    seen: dict[str, str] = {}
    kinds.clear()
    todo = list(start)
    while todo and len(seen) < limit:
        url = todo.pop().replace("&amp;", "&")
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        seen[url] = response.text
        kinds[url] = response.headers.get("content-type", "")
        if "html" in response.headers.get("content-type", ""):
            todo.extend(u for u in LINK.findall(response.text) if u not in seen)
    return seen


def test_every_page_loads_and_the_fleet_lists_every_site(client: TestClient) -> None:
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
    fleet = client.get("/fleet").text
    for site in ("central", "dcn0", "dcn1"):
        assert f'data-site="{site}"' in fleet
    assert f'data-site="{escape(HOSTILE_STACK)}"' in fleet  # the orphan is shown, escaped
    assert "4 of 4 sites" in fleet
    assert client.get("/").url.path == "/fleet"  # home is the fleet


def test_security_headers_on_every_response(filled: Workspace) -> None:
    app = create_app(filled, counts=None, token="t" * 43)
    with TestClient(app) as client:
        refused = client.get("/fleet")
        allowed = [client.get(u, headers={"Authorization": "Bearer " + "t" * 43}) for u in PAGES]
        missing = client.get("/nope", headers={"Authorization": "Bearer " + "t" * 43})
        static = client.get("/static/app.css", headers={"Authorization": "Bearer " + "t" * 43})
    assert refused.status_code == 401 and missing.status_code == 404
    for response in (refused, missing, static, *allowed):
        h = response.headers
        assert h["content-security-policy"] == CSP
        assert "unsafe-inline" not in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"


def test_no_inline_script_or_style_in_any_page(client: TestClient) -> None:
    for url, body in crawl(client).items():
        if kinds[url].startswith("image/svg"):
            # a picture, shown through <img> only (no script runs there); opened on its
            # own it is a download
            assert "<script" not in body, url
            continue
        if url.startswith("/static/"):
            continue
        assert "<style" not in body, url
        assert " style=" not in body, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), url
        assert not HANDLER.search(body), url


def test_hostile_text_is_escaped(client: TestClient) -> None:
    pages = crawl(client)
    for url, body in pages.items():
        assert HOSTILE not in body, url
        assert "<svg onload" not in body, url
    assert escape(HOSTILE) in client.get("/sites/dcn1").text  # event text, escaped
    assert escape(HOSTILE) in client.get("/drills/2").text  # drill evidence, escaped
    assert escape(HOSTILE) in client.get("/rollouts/1").text  # a site's message


def test_pictures_are_images_never_pages(client: TestClient) -> None:
    for url in ("/topology.svg", "/drills/1/timeline.svg", "/drills/compare.svg?a=1&b=2"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.headers["content-disposition"].startswith("attachment;")
        assert "<svg" in response.text and "<script" not in response.text
    assert '<img class="timeline" src="/drills/2/timeline.svg"' in client.get("/drills/2").text


def test_json_escapes_markup(client: TestClient) -> None:
    response = client.get("/fleet.json")
    assert response.headers["content-type"] == "application/json"
    assert "<" not in response.text and ">" not in response.text
    assert HOSTILE_STACK in [r["site"] for r in response.json()["rows"]]


def test_no_stored_secret_value_is_ever_sent(filled: Workspace, client: TestClient) -> None:
    secrets = filled.store.get_secrets("lab")
    assert len(secrets) >= 10  # the planner generated and sealed them
    pages = crawl(client)
    assert len(pages) > len(PAGES)  # the links were followed too
    for url, body in pages.items():
        for name, value in secrets.items():
            assert value not in body, f"{name}'s value in {url}"


def test_only_reads(client: TestClient) -> None:
    for url in ("/fleet", "/sites/dcn0", "/drills/1"):
        assert client.post(url).status_code == 405
        assert client.delete(url).status_code == 405


def test_filters_sorting_and_paging(client: TestClient) -> None:
    body = client.get("/fleet?q=dcn1").text
    assert 'data-site="dcn1"' in body and 'data-site="dcn0"' not in body
    assert "1 of 4 sites" in body
    body = client.get("/fleet?kind=control-plane").text
    assert 'data-site="central"' in body and 'data-site="dcn0"' not in body
    body = client.get("/fleet?status=failed").text
    assert re.findall(r'data-site="([^"]+)"', body) == ["dcn1"]
    data = client.get("/fleet.json?per=25&sort=site&dir=desc").json()
    assert [r["site"] for r in data["rows"]][:3] == ["dcn1", "dcn0", "central"]
    assert (data["matched"], data["total"], data["pages"]) == (4, 4, 1)
    # nonsense in the address still shows a page
    assert client.get("/fleet?page=x&per=7&sort=evil&stale=maybe").status_code == 200
    rows = client.get("/fleet/rows?q=dcn0").text
    assert rows.lstrip().startswith('<p class="count"') and "<html" not in rows


def test_the_fleet_table_refreshes_itself(client: TestClient) -> None:
    body = client.get("/fleet?q=dcn&stale=no").text
    assert 'data-refresh="/fleet/rows?q=dcn&amp;stale=no"' in body
    assert '<script src="/static/app.js" defer></script>' in body
    assert "data-refresh" in client.get("/static/app.js").text


def test_a_site_being_deployed_follows_its_deploy(filled: Workspace) -> None:
    start_deploy(filled, "dcn1")  # by this (live) process, as the deployer leaves it
    with TestClient(create_app(filled, counts=None)) as client:
        page = client.get("/sites/dcn1").text
        assert 'data-refresh="/sites/dcn1/body"' in page
        body = client.get("/sites/dcn1/body")
        assert body.headers["x-dcn-live"] == "1" and "<html" not in body.text
        assert "st-deploying" in body.text
    filled.store.set_status("lab", "dcn1", 1, GenerationStatus.DEPLOYED, "deployed")
    with TestClient(create_app(filled, counts=None)) as client:
        assert "data-refresh" not in client.get("/sites/dcn1").text
        assert client.get("/sites/dcn1/body").headers["x-dcn-live"] == "0"  # the last poll
        assert client.get("/rollouts/1/body").headers["x-dcn-live"] == "0"
        assert client.get("/rollouts/2/body").headers["x-dcn-live"] == "1"


def test_a_cut_site_is_drawn_broken_and_unreachable(filled: Workspace) -> None:
    write_lab(filled, cut=["dcn1"])
    with TestClient(create_app(filled, counts=None)) as client:
        svg = client.get("/topology.svg").text
        row = client.get("/fleet.json?q=dcn1").json()["rows"][0]
    assert row["reach"] == "unreachable: site cut" and row["reachable"] is False
    dcn1 = svg[svg.index('data-site="dcn1"') :]
    dcn1 = dcn1[: dcn1.index("</g>")]
    assert "uplink cut" in dcn1 and "stroke-dasharray" in dcn1
    assert "uplink cut" not in svg[svg.index('data-site="dcn0"') :].split("</g>")[0]
    assert svg.startswith("<svg") and "leaf central" in svg and "central-controller-0" in svg


def test_site_page_shows_nodes_drift_deploys_and_next(
    filled: Workspace, client: TestClient
) -> None:
    central = client.get("/sites/central").text
    assert "central-controller-0" in central and "keystone" in central
    assert "internal_api" in central
    assert "the nodes were given the newest plan" in central
    dcn1 = client.get("/sites/dcn1").text
    assert "dcn deploy dcn1" in dcn1  # the CLI's own next step (a failed deploy)
    assert "generation 1" in dcn1 and "task said" in dcn1
    # a newer plan that was not deployed: drift
    desc = Path(filled.file)
    desc.write_text(desc.read_text().replace("Controller: {count: 1}", "Controller: {count: 2}"))
    desc.write_text(desc.read_text().replace("ha_size: 1 ", "ha_size: 2 "))
    filled.reread().plan(["central"])
    with TestClient(create_app(filled, counts=None)) as fresh:
        central = fresh.get("/sites/central").text
    assert "the newest plan differs from the one applied" in central
    assert "dcn deploy central" in central


def test_drills_pages(client: TestClient) -> None:
    listing = client.get("/drills").text
    assert 'href="/drills/1"' in listing and 'href="/drills/2"' in listing
    assert "2/2" in listing and "1/2" in listing
    one = client.get("/drills/2").text
    assert "not held" in one and "held" in one and "30.0 s" in one and "0 packets" in one
    compare = client.get("/drills/compare?a=1&b=2").text
    assert "drill 1" in compare and "drill 2" in compare and 'class="differs"' in compare
    assert client.get("/drills/99").status_code == 404
    assert client.get("/drills/compare?a=1&b=x").status_code == 404


def test_rollouts_pages(client: TestClient) -> None:
    listing = client.get("/rollouts").text
    assert 'href="/rollouts/1"' in listing and "running" in listing and "done" in listing
    running = client.get("/rollouts/2").text
    assert 'data-refresh="/rollouts/2/body?page=1"' in running
    assert "in progress" in running and "no changes" in running
    done = client.get("/rollouts/1").text
    assert "data-refresh" not in done
    assert "dcn rollout dcn1" in done  # the failed site, as `dcn rollout show` says
    assert client.get("/rollouts/99").status_code == 404


def test_an_edit_of_the_description_is_seen_without_a_restart(filled: Workspace) -> None:
    app = create_app(filled, counts=None, max_age=0.0)
    with TestClient(app) as client:
        assert client.get("/fleet.json").json()["total"] == 4
        desc = Path(filled.file)
        text = desc.read_text()
        block = text[text.index("  - name: dcn1") : text.index("# What workloads")]
        text = text.replace(block, "").replace(
            "      - {site: dcn1, network_type: flat, subnet: 198.18.65.0/24}\n", ""
        )
        desc.write_text(text)
        app.state.cache.fresh()
        rows = {r["site"]: r for r in client.get("/fleet.json").json()["rows"]}
    assert rows["dcn1"]["status"] == "orphaned"  # still in the store, not described


def test_a_broken_description_is_an_error_page_not_a_traceback(filled: Workspace) -> None:
    Path(filled.file).write_text("name: [unclosed\n")
    app = create_app(Workspace(filled.file, filled.state_dir), counts=None, warm=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/fleet")
    assert response.status_code == 503
    assert "dcn.yaml" in response.text and "next:" in response.text  # what, where, what to do
    assert "Traceback" not in response.text
    assert response.headers["x-frame-options"] == "DENY"


def test_a_description_broken_while_serving_keeps_the_last_fleet(filled: Workspace) -> None:
    app = create_app(filled, counts=None)
    with TestClient(app) as client:
        assert client.get("/fleet").status_code == 200
        Path(filled.file).write_text("name: [unclosed\n")
        app.state.cache.refresh()
        response = client.get("/fleet")
        assert response.status_code == 200 and 'data-site="dcn0"' in response.text
        assert 'id="problem"' in response.text and "dcn.yaml" in response.text
        EXAMPLE_TEXT = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"
        Path(filled.file).write_text(EXAMPLE_TEXT.read_text())
        app.state.cache.refresh()
        assert 'id="problem"' not in client.get("/fleet").text
