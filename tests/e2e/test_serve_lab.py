"""End to end on the local lab: the web view's fleet page shows a site cut with
`dcn lab cut` as unreachable, and reachable again after `dcn lab heal`, without the
page being reloaded (its rows refresh themselves).

Its own lab (central and both edges deployed, as tests/e2e/test_lab.py brings one
up), `dcn serve` on a free loopback port, Debian's chromium driven by Playwright.
Not run by the fast suite (e2e); the lab needs root.
"""

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

import pytest
from tests.e2e.test_lab import EDGES, EXAMPLE, Lab

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="the lab needs iproute2"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("serve-lab"))
    shutil.copy(EXAMPLE, lab.file)
    try:
        lab.dcn("lab", "up")
        lab.dcn("deploy", "central")
        lab.dcn("deploy", *EDGES, "--parallel", "2")
        yield lab
    finally:
        lab.dcn("lab", "down", check=False)


@pytest.fixture(scope="module")
def served(lab: Lab) -> Iterator[str]:
    """`dcn serve` over the lab's state, as the operator starts it; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DCN_FILE": str(lab.file), "DCN_STATE_DIR": str(lab.state)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcn.cli", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=lab.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/static/app.css", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "dcn serve did not answer in 60 s"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_a_cut_site_shows_unreachable_on_the_fleet_page_without_a_reload(
    lab: Lab, served: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    site = EDGES[1]
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{served}/fleet", wait_until="load")
        page.evaluate("window.notReloaded = true")
        reach = page.locator(f"tr[data-site='{site}'] td.reach")
        expect(reach).to_have_text("reachable", timeout=30_000)
        try:
            lab.dcn("lab", "cut", site)
            # the snapshot is at most a few seconds old and the table polls every 3 s
            expect(reach).to_have_text("unreachable: site cut", timeout=30_000)
            assert page.evaluate("window.notReloaded") is True
            other = page.locator(f"tr[data-site='{EDGES[0]}'] td.reach")
            expect(other).to_have_text("reachable")  # only the cut site
            screenshots = Path(__file__).resolve().parents[2] / "test-artifacts" / "serve"
            screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshots / "lab-cut.png"), full_page=True)
        finally:
            lab.dcn("lab", "heal", site)
        expect(reach).to_have_text("reachable", timeout=30_000)
        assert page.evaluate("window.notReloaded") is True
        browser.close()
    assert errors == []
