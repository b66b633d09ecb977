"""Measure, from this node, how long a TCP connection to each target takes.

Usage: probe.py NAME=HOST:PORT ...   (IPv6 hosts in brackets)
Prints one JSON object: name -> {"ok": bool, "ms": float | null, "error": str | null}.
Each connection is bounded (2 s); targets are tried in parallel threads.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

TIMEOUT = 2.0


def probe(target: str) -> dict:
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    started = time.monotonic()
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT):
            return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 2), "error": None}
    except OSError as exc:
        return {"ok": False, "ms": None, "error": exc.strerror or type(exc).__name__}


def main(argv: list[str]) -> None:
    results: dict[str, dict] = {}
    threads = []
    for arg in argv:
        name, _, target = arg.partition("=")

        def run(name: str = name, target: str = target) -> None:
            results[name] = probe(target)

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
