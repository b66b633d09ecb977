"""`dcn verify` end to end: discover, configure, run Tempest, count per area.

The only part that talks to the cloud (`discover`) and starts processes (`_tempest`).
Everything lives under ``<state_dir>/tempest`` (0700): the venv, Tempest's workspace
with tempest.conf (0600: it holds the admin password), the run's subunit stream and a
readable report. Tempest's output never reaches the terminal; the report and log are
written with the admin password masked, whatever Tempest logged.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcn.errors import DcnError
from dcn.paths import private_opener, write_private
from dcn.redact import MASK
from dcn.verify import install
from dcn.verify.areas import DEFAULT_REGEX
from dcn.verify.config import TempestInputs, render
from dcn.verify.exclusions import EXCLUSIONS, exclude_list
from dcn.verify.results import RunResults, parse_csv
from dcn.workspace import Workspace

#: a bound on the whole run (the default selection takes minutes on the lab)
DEFAULT_TIMEOUT = 3600
CONCURRENCY = 2
#: a second image, so Tempest's filter-by-image tests have two to tell apart
ALT_IMAGE = "dcn-verify-alt"
#: how long a short Tempest command (init, subunit conversion) may take
SHORT_TIMEOUT = 300


@dataclass(frozen=True, slots=True)
class Layout:
    """Where `dcn verify` keeps its files under the state dir."""

    base: Path

    @property
    def workspace(self) -> Path:
        return self.base / "workspace"

    @property
    def conf(self) -> Path:
        return self.workspace / "etc" / "tempest.conf"

    @property
    def exclude_list(self) -> Path:
        return self.base / "exclude-list.txt"

    @property
    def stream(self) -> Path:
        return self.base / "last-run.subunit"

    @property
    def report(self) -> Path:
        """Every test with its outcome and the failures' tracebacks (subunit2pyunit)."""
        return self.base / "last-run.txt"

    @property
    def log(self) -> Path:
        """What Tempest printed besides its results (its own debug log is in workspace/logs)."""
        return self.base / "last-run.log"

    @property
    def home(self) -> Path:
        """HOME for Tempest's processes: it keeps ~/.tempest, not in the operator's home."""
        return self.base / "home"


@dataclass(slots=True)
class Outcome:
    results: RunResults
    tempest_version: str
    regex: str
    exclusions: int
    report: Path
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        total = self.results.total
        return {
            "ok": total.failed == 0,
            "tempest": self.tempest_version,
            "regex": self.regex,
            "excluded_by_name": self.exclusions,
            "areas": [r.as_dict() for r in self.results.areas.values()],
            "total": {k: v for k, v in total.as_dict().items() if k != "failed_tests"},
            "report": str(self.report),
            "notices": list(self.notices),
        }


def layout(ws: Workspace) -> Layout:
    return Layout(ws.state_dir / "tempest")


def check_regex(regex: str) -> str:
    try:
        re.compile(regex)
    except re.error as exc:
        raise DcnError(
            f"--regex {regex!r} is not a regular expression: {exc}",
            hint="Tempest matches it with Python's re.search against test ids",
        ) from None
    return regex


def _image(conn: Any, name: str) -> Any:
    image = conn.image.find_image(name)
    if image is None:
        # the fake virt driver never reads it; nova only needs its metadata
        image = conn.image.create_image(
            name=name,
            disk_format="raw",
            container_format="bare",
            visibility="public",
            data=io.BytesIO(b"\0" * 4096),
        )
    return image


def discover(ws: Workspace, conn: Any, creds: Any, workspace: Path) -> TempestInputs:
    """What tempest.conf needs, from the cloud and the description."""
    from dcn.cloud import SMOKE_IMAGE
    from dcn.deploy.networks import FLAVORS
    from dcn.model.description import ProviderNetwork

    cp = ws.deployment.control_plane
    flavors = []
    for flavor in FLAVORS[:2]:
        found = conn.compute.find_flavor(flavor.name)
        if found is None:
            raise DcnError(
                f"flavor {flavor.name} is missing: the control plane's deploy creates it",
                hint=f"run 'dcn deploy {cp.name if cp else 'CONTROL-PLANE'}'",
            )
        flavors.append(found.id)
    images = [_image(conn, SMOKE_IMAGE).id, _image(conn, ALT_IMAGE).id]
    provider = [n.name for n in ws.deployment.workload_networks if isinstance(n, ProviderNetwork)]
    fixed = None
    if provider and conn.network.find_network(provider[0]) is not None:
        fixed = provider[0]
    extensions = tuple(sorted(e.alias for e in conn.network.extensions()))
    return TempestInputs(
        auth_url=creds.auth_url,
        region=creds.region,
        admin_password=creds.password,
        admin_username=creds.username,
        admin_project=creds.project,
        admin_domain=creds.domain,
        image_ref=images[0],
        image_ref_alt=images[1],
        flavor_ref=flavors[0],
        flavor_ref_alt=flavors[1],
        workspace=str(workspace),
        network_extensions=extensions,
        fixed_network=fixed,
        # neutron always offers projects geneve networks (dcn.services.neutron_server)
        project_networks=True,
    )


def _env(lay: Layout, installed: install.Installed) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "TEMPEST_"))}
    env["HOME"] = str(lay.home)
    env["PATH"] = f"{installed.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def tempest_command(installed: install.Installed, lay: Layout, regex: str) -> list[str]:
    return [
        installed.bin("tempest"),
        "run",
        "--subunit",
        "--regex",
        regex,
        "--exclude-list",
        str(lay.exclude_list),
        "--concurrency",
        str(CONCURRENCY),
    ]


def init_workspace(installed: install.Installed, lay: Layout) -> None:
    """``tempest init`` once: the workspace's .stestr.conf points at the venv's tests."""
    if (lay.workspace / ".stestr.conf").exists():
        return
    lay.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    cmd = [
        installed.bin("tempest"),
        "init",
        "--workspace-path",
        str(lay.base / "workspaces.yaml"),
        "--name",
        "dcn",
        str(lay.workspace),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=_env(lay, installed),
        timeout=SHORT_TIMEOUT,
        umask=0o077,
        check=False,
    )
    if proc.returncode != 0:
        raise DcnError(
            f"'tempest init' failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}",
            hint=f"remove {lay.workspace} and run 'dcn verify' again",
        )


def _tempest(installed: install.Installed, lay: Layout, regex: str, timeout: float) -> None:
    """Run Tempest with its results to the stream file and the rest to the log."""
    with (
        open(lay.stream, "wb", opener=private_opener) as out,
        open(lay.log, "wb", opener=private_opener) as err,
    ):
        proc = subprocess.Popen(
            tempest_command(installed, lay, regex),
            cwd=lay.workspace,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=_env(lay, installed),
            umask=0o077,
            start_new_session=True,  # its workers are ours to stop, all of them
        )
        try:
            proc.wait(timeout=timeout)
        except BaseException:
            _stop(proc)
            raise


def _stop(proc: subprocess.Popen) -> None:
    """End the run we started: its process group (tempest, stestr, the workers)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _convert(installed: install.Installed, lay: Layout, tool: str, *, errors: bool) -> str:
    with open(lay.stream, "rb") as stream:
        proc = subprocess.run(
            [installed.bin(tool)],
            stdin=stream,
            capture_output=True,
            env=_env(lay, installed),
            timeout=SHORT_TIMEOUT,
            check=False,
        )
    # subunit2pyunit exits 1 when a test failed; its output is what we want either way
    return (proc.stdout + (proc.stderr if errors else b"")).decode("utf-8", "replace")


def _mask(path: Path, secret: str) -> None:
    """Rewrite `path` (0600) with `secret` masked, should Tempest have printed it."""
    if not path.exists():
        return
    text = path.read_text("utf-8", "replace")
    write_private(path, text.replace(secret, MASK) if secret else text)


def verify(ws: Workspace, regex: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Run Tempest against the deployed cloud and count its results per API area."""
    from dcn.cloud import admin_credentials, api_errors, connect

    regex = check_regex(regex or DEFAULT_REGEX)
    lay = layout(ws)
    creds = admin_credentials(ws)  # refuses before anything is installed or written
    lay.base.mkdir(mode=0o700, parents=True, exist_ok=True)
    installed = install.ensure(lay.base)
    init_workspace(installed, lay)
    with api_errors("finding what Tempest needs in the cloud"):
        inputs = discover(ws, connect(creds, timeout=60), creds, lay.workspace)
    write_private(lay.conf, render(inputs))
    write_private(lay.exclude_list, exclude_list())
    try:
        _tempest(installed, lay, regex, timeout)
    except subprocess.TimeoutExpired:
        raise DcnError(
            f"Tempest did not finish within {timeout:.0f} s (stopped)",
            hint=f"narrow --regex or raise --timeout; what ran is in {lay.stream}",
        ) from None
    write_private(lay.report, _convert(installed, lay, "subunit2pyunit", errors=True))
    for path in (lay.report, lay.log, lay.workspace / "logs" / "tempest.log"):
        _mask(path, creds.password)
    try:
        results = parse_csv(_convert(installed, lay, "subunit2csv", errors=False))
    except ValueError as exc:
        raise DcnError(
            f"cannot read Tempest's results: {exc}", hint=f"Tempest's log: {lay.log}"
        ) from None
    if results.ran == 0:
        raise DcnError(
            f"Tempest ran no test for --regex {regex!r}",
            hint=f"list what a regex selects with: cd {lay.workspace} && "
            f"{installed.bin('tempest')} run --list-tests --regex REGEX; its log: {lay.log}",
        )
    notices: list[str] = []
    return Outcome(results, installed.version, regex, len(EXCLUSIONS), lay.report, notices)
