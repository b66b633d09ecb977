"""Who may read the view: the token off 127.0.0.1 (header, or a cookie after one
?token= visit), loopback Host names on 127.0.0.1, and the token file itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dcn.errors import DcnError
from dcn.web.app import create_app
from dcn.web.security import (
    COOKIE,
    TOKEN_FILE,
    load_or_create_token,
    loopback_hosts,
    needs_token,
)
from dcn.workspace import Workspace

TOKEN = "s3cr3t-" + "x" * 40


@pytest.fixture
def guarded(filled: Workspace) -> TestClient:
    return TestClient(create_app(filled, counts=None, token=TOKEN), follow_redirects=False)


def test_without_the_token_nothing_is_shown(guarded: TestClient) -> None:
    for url in ("/fleet", "/fleet.json", "/sites/dcn0", "/static/app.js", "/drills/1"):
        response = guarded.get(url)
        assert response.status_code == 401, url
        assert "dcn0" not in response.text
    wrong = guarded.get("/fleet", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    guarded.cookies.set(COOKIE, TOKEN[:-1])
    assert guarded.get("/fleet").status_code == 403
    guarded.cookies.clear()
    assert guarded.get("/fleet?token=nope").status_code == 403


def test_the_token_in_a_header(guarded: TestClient) -> None:
    response = guarded.get("/fleet", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and 'data-site="dcn0"' in response.text


def test_a_token_visit_moves_it_to_a_cookie_and_out_of_the_address(guarded: TestClient) -> None:
    first = guarded.get(f"/fleet?q=dcn&token={TOKEN}")
    assert first.status_code == 303
    assert first.headers["location"] == "/fleet?q=dcn"  # the token leaves the address
    cookie = first.headers["set-cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    then = guarded.get("/fleet?q=dcn")  # the client kept the cookie
    assert then.status_code == 200 and 'data-site="dcn0"' in then.text


def test_the_token_visit_never_sends_the_browser_elsewhere(guarded: TestClient) -> None:
    response = guarded.get(f"http://testserver//evil.example/fleet?token={TOKEN}")
    assert response.status_code == 303
    assert response.headers["location"] == "/evil.example/fleet"


def test_a_token_needs_a_place(tmp_path: Path) -> None:
    with pytest.raises(DcnError, match="cannot keep the web view's token"):
        load_or_create_token(tmp_path / "missing")


def test_only_loopback_names_reach_a_tokenless_view(filled: Workspace) -> None:
    hosts = loopback_hosts("127.0.0.1", 8765)
    client = TestClient(create_app(filled, counts=None, hosts=hosts), base_url="http://x")
    assert client.get("/fleet", headers={"host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/fleet", headers={"host": "localhost:8765"}).status_code == 200
    # a page elsewhere that rebinds its name to 127.0.0.1 sends its own name
    assert client.get("/fleet", headers={"host": "evil.example:8765"}).status_code == 400


def test_which_binds_need_the_token() -> None:
    assert not needs_token("127.0.0.1") and not needs_token("localhost")
    assert not needs_token("::1")
    assert needs_token("127.0.0.2") and needs_token("0.0.0.0") and needs_token("192.0.2.7")


def test_the_token_is_made_once_0600_and_kept(tmp_path: Path) -> None:
    token, new = load_or_create_token(tmp_path)
    assert new and len(token) >= 32
    path = tmp_path / TOKEN_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_token(tmp_path) == (token, False)
    path.chmod(0o644)
    with pytest.raises(DcnError, match="readable by others"):
        load_or_create_token(tmp_path)


def test_a_token_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("y" * 50)
    os.chmod(tmp_path / "elsewhere", 0o600)
    (tmp_path / TOKEN_FILE).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DcnError, match="cannot read"):
        load_or_create_token(tmp_path)
