"""The web view in a real browser: Playwright driving Debian's chromium (headless)
against `dcn serve` run as the operator runs it, on a free loopback port, over a
state store filled by the planner. Every page loads without a console error (a CSP
violation is one), the fleet lists and filters its sites and refreshes its rows
without a reload, a drill's timeline picture renders, and off 127.0.0.1 the token is
required. Screenshots of each page go to test-artifacts/serve/ (printed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcn.state.records import GenerationStatus
from dcn.web.security import load_or_create_token
from dcn.workspace import Workspace
from tests.web.conftest import fill

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "serve"

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Served:
    """`dcn serve` in its own process, stopped by the fixture that started it."""

    def __init__(self, ws: Workspace, host: str) -> None:
        self.ws = ws
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCN_")}
        where = ["-f", str(ws.file), "--state-dir", str(ws.state_dir)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dcn.cli", *where, "serve", "--bind", f"{host}:{self.port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/static/app.css", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers (401: it wants its token)
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None:
                    raise AssertionError(self.proc.communicate()) from None
                time.sleep(0.2)
        raise AssertionError("dcn serve did not answer in 30 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    ws = fill(tmp_path_factory.mktemp("served"))
    server = Served(ws, "127.0.0.1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nscreenshots of dcn serve: {ARTIFACTS}")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Tab:
    """A page of the browser that keeps every console error and uncaught exception."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def goto(self, url: str, shot: str | None = None) -> Any:
        response = self.page.goto(url, wait_until="load")
        if shot:
            self.page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        return response

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    t = Tab(browser)
    yield t
    t.close()


PAGES = {
    "fleet": "/fleet",
    "topology": "/topology",
    "site-central": "/sites/central",
    "site-dcn1": "/sites/dcn1",
    "drills": "/drills",
    "drill": "/drills/2",
    "compare": "/drills/compare?a=1&b=2",
    "rollouts": "/rollouts",
    "rollout-running": "/rollouts/2",
}


def test_every_page_loads_without_console_errors(served: Served, tab: Tab) -> None:
    for name, path in PAGES.items():
        response = tab.goto(served.url + path, shot=name)
        assert response.status == 200, path
        assert tab.page.locator("main h1").count() == 1, path
    tab.page.wait_for_timeout(2500)  # the running rollout's live region polls once
    assert tab.errors == []


def test_the_fleet_lists_every_site_and_filters(served: Served, tab: Tab) -> None:
    tab.goto(served.url + "/fleet")
    rows = tab.page.locator("table.fleet tbody tr[data-site]")
    assert rows.count() == 4
    names = set(rows.evaluate_all("rows => rows.map(r => r.dataset.site)"))
    assert {"central", "dcn0", "dcn1"} <= names
    tab.page.select_option("select[name=kind]", "control-plane")  # applies at once
    tab.page.wait_for_url("**/fleet?*kind=control-plane*")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.site)") == ["central"]
    tab.goto(served.url + "/fleet")
    tab.page.fill("input[name=q]", "dcn1")
    tab.page.press("input[name=q]", "Enter")
    tab.page.wait_for_url("**/fleet?*q=dcn1*")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.site)") == ["dcn1"]
    tab.page.screenshot(path=str(ARTIFACTS / "fleet-filtered.png"), full_page=True)
    tab.goto(served.url + "/fleet?kind=edge")
    tab.page.click("th a:text-is('site')")  # sorted by name already: the other way
    tab.page.wait_for_url("**dir=desc*")
    order = rows.evaluate_all("rows => rows.map(r => r.dataset.site)")
    assert order[:2] == ["dcn1", "dcn0"]
    assert tab.errors == []


def test_the_fleet_refreshes_its_rows_without_a_reload(served: Served, tab: Tab) -> None:
    tab.goto(served.url + "/fleet")
    tab.page.evaluate("window.notReloaded = true")
    badge = tab.page.locator("tr[data-site='dcn0'] .badge").first
    assert badge.inner_text() == "deployed"
    served.ws.store.set_status("lab", "dcn0", 1, GenerationStatus.FAILED, "failed: test")
    try:
        playwright_api.expect(badge).to_have_text("failed", timeout=15_000)
        assert tab.page.evaluate("window.notReloaded") is True
    finally:
        served.ws.store.set_status("lab", "dcn0", 1, GenerationStatus.DEPLOYED, "deployed")
    assert tab.errors == []


def test_a_drills_timeline_picture_renders(served: Served, tab: Tab) -> None:
    try:
        from dcn.pictures import timeline  # noqa: F401
    except ImportError:
        pytest.skip("dcn.pictures.timeline is not on this branch yet")
    tab.goto(served.url + "/drills/1", shot="drill-timeline")
    picture = tab.page.locator("img.timeline")
    picture.wait_for()
    width = picture.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 0
    tab.goto(served.url + "/drills/compare?a=1&b=2", shot="compare-timeline")
    width = tab.page.locator("img.timeline").evaluate("img => img.naturalWidth")
    assert width > 0
    assert tab.errors == []


def test_the_token_is_required_off_localhost(tmp_path: Path, browser: Any) -> None:
    ws = fill(tmp_path)
    token, _ = load_or_create_token(ws.state_dir)
    server = Served(ws, "127.0.0.2")
    t = Tab(browser)
    try:
        refused = t.goto(server.url + "/fleet")
        assert refused.status == 401
        assert "dcn0" not in t.page.content()
        wrong = t.goto(server.url + "/fleet?token=not-it")
        assert wrong.status == 403
        allowed = t.goto(server.url + f"/fleet?token={token}", shot="token-fleet")
        assert allowed.status == 200 and t.page.url == server.url + "/fleet"
        assert t.page.locator("table.fleet tbody tr[data-site]").count() == 4
        t.goto(server.url + "/sites/dcn0")  # the cookie carries it on
        assert t.page.locator("h1").inner_text() == "Site dcn0"
        t.errors = [e for e in t.errors if "401" not in e and "403" not in e]
        assert t.errors == []
    finally:
        t.close()
        server.stop()
