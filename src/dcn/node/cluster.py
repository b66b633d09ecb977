"""The node's side of the control plane's clusters (standard library only; dcn ships
it to every node beside unitctl.py and runs it as root): MariaDB Galera's bootstrap and
recovery, and what `dcn health`, the drills and ``dcn recover`` read of a controller.

  new-cluster PEER...   start this node as a new cluster (``--wsrep-new-cluster``),
                        but only when nothing says a cluster exists: mariadb already
                        runs, the node's state names a cluster, or a peer answers on
                        the Galera port (then the normal start joins it)
  position              JSON: the node's last committed position (grastate.dat, or
                        ``--wsrep-recover`` when the server stopped uncleanly),
                        whether it runs, and its safe_to_bootstrap flag
  bootstrap             make this node the cluster again (after every node stopped):
                        mark it safe to bootstrap and start it as a new cluster
  writes SECONDS        JSON: write to the cluster through this node every 0.2 s for
                        SECONDS; how many, how many failed, the longest a write took
                        or waited (the drills' write stall)
  status [--rabbitmq] VIP...
                        JSON: the server's wsrep status (size, state, primary),
                        which of the VIPs this node holds, each OVN database's RAFT
                        role, and with --rabbitmq the broker's cluster (running
                        nodes, partitions)
  check-server HOST:PORT
                        serve haproxy's check of this member over HTTP: 200 when it
                        is Synced in a Primary component and ready, else 503 with
                        why (TripleO's clustercheck): a member that is up but cut
                        off in a minority, or still joining, gets no clients

Starting a new cluster from a node that is not the most advanced loses the
transactions the others committed; choosing the node is the caller's
(``dcn recover central`` compares every node's position first).
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

UNIT = "mariadb.service"
DATADIR = Path("/var/lib/mysql")
GRASTATE = DATADIR / "grastate.dat"
#: Debian's mariadb.service reads it (EnvironmentFile=-): what galera_new_cluster writes
NEW_CLUSTER_ENV = Path("/run/mariadb-wsrep-new-cluster")
GALERA_PORT = 4567
NO_CLUSTER = "00000000-0000-0000-0000-000000000000"
STATUS_KEYS = (
    "wsrep_cluster_size",
    "wsrep_cluster_status",
    "wsrep_local_state_comment",
    "wsrep_ready",
    "wsrep_connected",
    "wsrep_last_committed",
    "wsrep_cluster_state_uuid",
    "wsrep_incoming_addresses",
)


def active() -> bool:
    """mariadb runs, or is starting (a member waiting for its peers is starting)."""
    done = subprocess.run(
        ["systemctl", "is-active", UNIT], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() in ("active", "activating", "reloading")


def grastate() -> dict[str, str]:
    """grastate.dat's fields (uuid, seqno, safe_to_bootstrap); empty without one."""
    try:
        text = GRASTATE.read_text()
    except OSError:
        return {}
    return dict(re.findall(r"^(\w+):\s*(\S+)", text, re.M))


def answers(host: str, port: int = GALERA_PORT, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_new_cluster() -> None:
    NEW_CLUSTER_ENV.write_text("_WSREP_NEW_CLUSTER=--wsrep-new-cluster\n")
    try:
        subprocess.run(["systemctl", "start", UNIT], check=True)
    finally:
        NEW_CLUSTER_ENV.unlink(missing_ok=True)


def new_cluster(peers: list[str]) -> str:
    if active():
        return "mariadb runs: nothing to bootstrap"
    uuid = grastate().get("uuid", NO_CLUSTER)
    if uuid != NO_CLUSTER:
        return f"this node belongs to cluster {uuid}: it joins it"
    for peer in peers:
        if answers(peer):
            return f"{peer} answers on port {GALERA_PORT}: this node joins its cluster"
    start_new_cluster()
    return "started a new cluster"


def recovered_seqno() -> tuple[str, int] | None:
    """(uuid, seqno) from ``galera_recovery`` (mariadbd --wsrep-recover as mysql)."""
    done = subprocess.run(["/usr/bin/galera_recovery"], capture_output=True, text=True, check=False)
    found = re.search(r"--wsrep[-_]start[-_]position=([0-9a-f-]+):(-?\d+)", done.stdout)
    return (found.group(1), int(found.group(2))) if found else None


def position() -> dict:
    state = grastate()
    running = active()
    uuid, seqno = state.get("uuid", NO_CLUSTER), int(state.get("seqno", "-1"))
    how = "grastate"
    if running:
        status = wsrep_status()
        seqno = int(status.get("wsrep_last_committed") or seqno)
        uuid = status.get("wsrep_cluster_state_uuid") or uuid
        how = "running"
    elif seqno < 0:
        recovered = recovered_seqno()
        if recovered:
            (uuid, seqno), how = recovered, "wsrep-recover"
    return {
        "uuid": uuid,
        "seqno": seqno,
        "how": how,
        "running": running,
        "safe_to_bootstrap": state.get("safe_to_bootstrap") == "1",
    }


def bootstrap() -> str:
    """Mark this node safe to bootstrap and start a new cluster from it."""
    if active():
        subprocess.run(["systemctl", "stop", UNIT], check=True)
    if GRASTATE.exists():
        text = GRASTATE.read_text()
        text = re.sub(r"^safe_to_bootstrap:.*$", "safe_to_bootstrap: 1", text, flags=re.M)
        GRASTATE.write_text(text)
    start_new_cluster()
    return "started a new cluster from this node"


def _run(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[str, str]:
    """(output, error) of a bounded command: the error is empty when it succeeded, else
    its last line of stderr (or why it did not answer)."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=timeout, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "", f"{argv[0]} did not answer: {type(exc).__name__}"
    if done.returncode != 0:
        return "", (done.stderr.strip().splitlines() or [f"{argv[0]} failed"])[-1]
    return done.stdout, ""


def _sql(statement: str, timeout: float = 60) -> tuple[str, str]:
    """A statement through the local server's socket (root by unix_socket)."""
    return _run(["/usr/bin/mariadb", "--connect-timeout=3", "-N", "-B", "-e", statement], timeout)


def wsrep_status() -> dict[str, str]:
    if not active():
        return {"error": "mariadb is not running"}
    return _wsrep(timeout=6)


def _wsrep(timeout: float) -> dict[str, str]:
    """The server's wsrep status, or why it did not answer (a stopped server's socket
    is gone: the client says so at once)."""
    names = ",".join(f"'{k}'" for k in STATUS_KEYS)
    out, error = _sql(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})", timeout=timeout)
    if error:
        return {"error": error}
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def serves_clients(wsrep: dict[str, str]) -> tuple[bool, str]:
    """Whether a member should take clients, and why not: Synced (not joining, not a
    donor), in the Primary component, ready for queries."""
    if "error" in wsrep:
        return False, wsrep["error"]
    state = wsrep.get("wsrep_local_state_comment", "?")
    component = wsrep.get("wsrep_cluster_status", "?")
    if state != "Synced" or component != "Primary" or wsrep.get("wsrep_ready") != "ON":
        return False, f"{state}, {component}, ready {wsrep.get('wsrep_ready', '?')}"
    return True, f"{state}, {component}"


#: a check's answer serves every check within this many seconds (three haproxies ask)
CHECK_CACHE = 0.5


def check_server(listen: str) -> None:
    """Answer haproxy's HTTP checks until stopped (one request at a time, bounded)."""
    host, _, port = listen.rpartition(":")
    last: list[tuple[float, bool, str]] = []

    def verdict() -> tuple[bool, str]:
        if last and time.monotonic() - last[0][0] < CHECK_CACHE:
            return last[0][1], last[0][2]
        ok, why = serves_clients(_wsrep(timeout=1.5))
        last[:] = [(time.monotonic(), ok, why)]
        return ok, why

    class Check(http.server.BaseHTTPRequestHandler):
        timeout = 5

        def do_GET(self) -> None:
            ok, why = verdict()
            body = f"{why}\n".encode()
            try:
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except ConnectionError:
                pass  # haproxy hangs up once it has read the status line

        do_HEAD = do_GET
        do_OPTIONS = do_GET

        def log_message(self, format: str, *args: object) -> None:
            """Silent: three haproxies ask every two seconds."""

    server = http.server.HTTPServer((host.strip("[]"), int(port)), Check)
    server.serve_forever()


def held(vips: list[str]) -> list[str]:
    """The VIPs among `vips` that an interface of this node holds."""
    shown = subprocess.run(
        ["ip", "-j", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    here = {a["local"] for link in json.loads(shown or "[]") for a in link.get("addr_info", [])}
    return [vip for vip in vips if vip in here]


#: what dcn.services.rabbitmq.ENV gives every rabbitmq command (this program imports
#: nothing of dcn: it runs on the node)
RABBITMQ_ENV = {
    "HOME": "/var/lib/rabbitmq",
    "RABBITMQ_CONF_ENV_FILE": "/etc/rabbitmq/rabbitmq-env.conf",
    "PATH": "/usr/bin:/bin",
}


def rabbitmq() -> dict:
    """The broker's view of its cluster: running and known nodes, partitions."""
    argv = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "cluster_status", "--formatter", "json"]
    out, error = _run(argv, 20, env=RABBITMQ_ENV)
    try:
        status = json.loads(out) if not error else {}
    except ValueError:
        error = "rabbitmqctl did not answer in JSON"
    if error:
        return {"error": error}
    return {
        "running_nodes": sorted(status.get("running_nodes", [])),
        "disk_nodes": sorted(status.get("disk_nodes", [])),
        "partitions": status.get("partitions") or {},
    }


#: OVN's clustered databases: short name -> (control socket, database name)
OVN_DATABASES = {
    "nb": ("/var/run/ovn/ovnnb_db.ctl", "OVN_Northbound"),
    "sb": ("/var/run/ovn/ovnsb_db.ctl", "OVN_Southbound"),
}


def ovn() -> dict:
    """Each OVN database's RAFT view of this member: its role and status."""
    views: dict = {}
    for short, (ctl, name) in OVN_DATABASES.items():
        out, error = _run(["ovn-appctl", "-t", ctl, "cluster/status", name], 5)
        fields = dict(re.findall(r"^(Role|Status): (.+)$", out, re.M))
        views[short] = (
            {"error": error}
            if error
            else {"role": fields.get("Role", "?"), "status": fields.get("Status", "?")}
        )
    return views


def status(args: list[str]) -> dict:
    with_broker = "--rabbitmq" in args
    vips = [a for a in args if a != "--rabbitmq"]
    galera = {"running": active(), **wsrep_status()}
    out: dict = {"galera": galera, "vips": held(vips), "ovn": ovn()}
    if with_broker:
        out["rabbitmq"] = rabbitmq()
    return out


def writes(seconds: float, interval: float = 0.2) -> dict:
    """Writes through the local member (replicated by Galera) for `seconds`: a member's
    loss stalls every write of the cluster until it is noticed gone."""
    _sql("CREATE DATABASE IF NOT EXISTS dcn_probe")
    _sql(
        "CREATE TABLE IF NOT EXISTS dcn_probe.writes (id INT AUTO_INCREMENT PRIMARY KEY, at DOUBLE)"
    )
    start = time.monotonic()
    done = failed = 0
    longest = 0.0
    previous: float | None = None
    while time.monotonic() - start < seconds:
        began = time.monotonic()
        ok = not _sql(f"INSERT INTO dcn_probe.writes (at) VALUES ({time.time()})")[1]
        now = time.monotonic()
        done += 1
        failed += not ok
        if ok:
            # the time no write got through, beyond the pace of the writes
            if previous is not None:
                longest = max(longest, now - previous - interval)
            previous = now
        time.sleep(max(0.0, interval - (time.monotonic() - began)))
    _sql("DELETE FROM dcn_probe.writes")
    return {"writes": done, "failed": failed, "longest_stall": round(longest, 2)}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    if command == "new-cluster":
        print(new_cluster(args))
    elif command == "position":
        print(json.dumps(position()))
    elif command == "bootstrap":
        print(bootstrap())
    elif command == "writes":
        print(json.dumps(writes(float(args[0]))))
    elif command == "status":
        print(json.dumps(status(args)))
    elif command == "check-server" and len(args) == 1:
        check_server(args[0])
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        print(f"{' '.join(exc.cmd)} failed (exit {exc.returncode})", file=sys.stderr)
        sys.exit(1)
