"""Register the service users, services and endpoints in keystone (runs on a controller).

Input: a JSON file (0600) rendered by dcn, with the admin cloud name and, per service,
its user, password, type and endpoint URLs. Idempotent: what exists is updated to the
file's values, what is missing is created. Runs with the node's OpenStack virtualenv.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import openstack  # the node's OpenStack virtualenv

DOMAIN = "default"
ATTEMPTS = 60


def connect(cloud: str) -> Any:
    """A connection once keystone answers (it may still be starting): bounded wait."""
    for attempt in range(ATTEMPTS):
        try:
            conn = openstack.connect(cloud=cloud)
            conn.identity.find_project("admin", domain_id=DOMAIN)
            return conn
        except Exception as exc:
            if attempt == ATTEMPTS - 1:
                raise SystemExit(f"keystone did not answer: {type(exc).__name__}") from None
            time.sleep(2)
    raise AssertionError("unreachable")


def ensure_role(conn: Any, name: str) -> Any:
    return conn.identity.find_role(name) or conn.identity.create_role(name=name)


def ensure_user(conn: Any, name: str, password: str, project: Any) -> Any:
    user = conn.identity.find_user(name, domain_id=DOMAIN)
    if user is None:
        return conn.identity.create_user(
            name=name, password=password, domain_id=DOMAIN, default_project_id=project.id
        )
    return conn.identity.update_user(user, password=password)


def ensure_service(conn: Any, name: str, kind: str) -> Any:
    for svc in conn.identity.services(type=kind):
        return svc
    return conn.identity.create_service(name=name, type=kind, enabled=True)


def ensure_endpoint(conn: Any, service: Any, interface: str, url: str, region: str) -> None:
    for ep in conn.identity.endpoints(service_id=service.id, interface=interface):
        if ep.url != url:
            conn.identity.update_endpoint(ep, url=url)
        return
    conn.identity.create_endpoint(
        service_id=service.id, interface=interface, url=url, region_id=region
    )


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    conn = connect(data["cloud"])
    project = conn.identity.find_project(data["project"], domain_id=DOMAIN)
    if project is None:
        project = conn.identity.create_project(name=data["project"], domain_id=DOMAIN)
    roles = [ensure_role(conn, r) for r in data["roles"]]
    for entry in data["services"]:
        user = ensure_user(conn, entry["user"], entry["password"], project)
        for role in roles:
            conn.identity.assign_project_role_to_user(project, user, role)
        service = ensure_service(conn, entry["name"], entry["type"])
        for interface, url in entry["endpoints"].items():
            ensure_endpoint(conn, service, interface, url, data["region"])
        print(f"registered {entry['name']} ({entry['type']})")


if __name__ == "__main__":
    main(sys.argv[1])
