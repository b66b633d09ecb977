"""A throw-away PostgreSQL server on a Unix socket only, for testing the store on it.

No TCP listener: the server is reachable only through a socket in a temporary
directory. Skipped where PostgreSQL's server binaries are not installed (.ci/run
installs them).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_server(root: Path) -> Iterator[str]:
    """Start a private server under `root`; yield a SQLAlchemy URL prefix for databases."""
    bindir = server_bin()
    assert bindir is not None
    data, sock = root / "data", root / "sock"
    sock.mkdir(parents=True)
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "dcn", "--auth=trust"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    opts = f"-c listen_addresses='' -k {sock} -c fsync=off"
    # the server inherits pg_ctl's output: a log file, not a pipe nobody closes
    log = root / "server.log"
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=90,
    )
    try:
        yield f"postgresql+psycopg://dcn@/%s?host={sock}"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )


def create_database(url_template: str, name: str) -> str:
    import psycopg

    sock = url_template.split("host=")[1]
    with psycopg.connect(host=sock, user="dcn", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url_template % name
