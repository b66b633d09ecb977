"""The node image's cache key and build command (pure: nothing is built here)."""

from __future__ import annotations

from pathlib import Path

import pytest

import dcn
from dcn.errors import DcnError
from dcn.lab import image

MIRROR = ("deb http://mirror.example/debian bookworm main",)


def test_cache_key_changes_with_each_input() -> None:
    base = image.cache_key()
    assert image.cache_key() == base  # stable
    variants = [
        image.cache_key(["mariadb-server"]),
        image.cache_key(constraints=b""),
        image.cache_key(constraints=b"nova==30.0.0\n"),
        image.cache_key(version=dcn.__version__ + ".post1"),
        image.cache_key(fmt=image.FORMAT + 1),
    ]
    assert len({base, *variants}) == len(variants) + 1
    assert image.cache_key(constraints=b"a") != image.cache_key(constraints=b"b")


def test_cache_key_ignores_order_duplicates_and_base_packages() -> None:
    assert image.cache_key(["b-pkg", "a-pkg", "b-pkg"]) == image.cache_key(["a-pkg", "b-pkg"])
    assert image.cache_key(["systemd", "sudo"]) == image.cache_key()


def test_bad_package_name_is_a_clear_error() -> None:
    with pytest.raises(DcnError, match="not a Debian package name"):
        image.packages(["ok-pkg", "rm -rf /"])


def test_build_command() -> None:
    cmd = image.build_command(Path("/cache/.build-x/root"), ["mariadb-server"], MIRROR)
    assert cmd[:4] == ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=directory"]
    include = next(a for a in cmd if a.startswith("--include="))
    assert include.removeprefix("--include=").split(",") == sorted(
        [*image.BASE_PACKAGES, "mariadb-server"]
    )
    assert "--skip=cleanup/apt/lists" in cmd  # lists kept, apt cache cleaned (the default)
    assert not any(a.startswith("--skip=cleanup/apt/cache") for a in cmd)
    hook = next(a for a in cmd if a.startswith("--customize-hook="))
    assert "ssh_host_" in hook and "ca-certificates.crt" in hook and "machine-id" in hook
    assert cmd[-3:] == ["bookworm", "/cache/.build-x/root", MIRROR[0]]


def test_mirrors_from_deb822_and_sources_list(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://deb.debian.org/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://other.example/debian\nSuites: trixie\nComponents: main\n"
    )
    listfile = tmp_path / "sources.list"
    listfile.write_text("deb [arch=amd64] http://local.example/debian bookworm main contrib\n")
    assert image.mirrors(d, listfile) == [
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://deb.debian.org/debian bookworm main",
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://deb.debian.org/debian bookworm-updates main",
        "deb http://local.example/debian bookworm main contrib",
    ]


def test_mirrors_default_when_none_configured(tmp_path: Path) -> None:
    assert image.mirrors(tmp_path / "none", tmp_path / "none.list") == list(image.DEFAULT_MIRRORS)


def test_cached_image_returned_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    constraints = tmp_path / "c.txt"
    constraints.write_text("nova==1\n")
    digest = image.cache_key(["jq"], constraints.read_bytes())
    (tmp_path / "cache" / digest / "root").mkdir(parents=True)
    monkeypatch.setattr(image.shutil, "which", lambda _: None)  # would fail if it built
    got = image.ensure_image(["jq"], constraints, tmp_path / "cache")
    assert got.root == (tmp_path / "cache" / digest / "root").resolve()
    assert not got.built


def test_missing_mmdebstrap_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image.shutil, "which", lambda _: None)
    with pytest.raises(DcnError) as err:
        image.ensure_image(cache_dir=tmp_path)
    assert "mmdebstrap" in err.value.message and "apt-get install" in err.value.hint
    assert list(tmp_path.iterdir()) == []  # nothing half-built


def test_missing_constraints_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DcnError, match="constraints file"):
        image.ensure_image(constraints=tmp_path / "absent.txt", cache_dir=tmp_path)
