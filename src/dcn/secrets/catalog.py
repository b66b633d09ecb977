"""Secret kinds, how a fresh value of each is made, and the table of every secret the
service catalog declares.

Names are TripleO parameter names where TripleO had one (``RabbitPassword``,
``NovaPassword``, ...), so an export stays compatible. Database passwords are
separate secrets TripleO lacked (``NovaDbPassword`` ...): an edge compute never needs
them, so least privilege can leave them on the control plane.

Each service declares the secrets it references in its own module (`dcn.services`);
this module sits below the services and does not import them: `dcn.services.catalog`
hands it their union (`declare`) when it loads, and every program that plans, deploys
or rotates loads it.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
from collections.abc import Iterable, KeysView
from dataclasses import dataclass
from enum import StrEnum

from dcn.errors import DcnError


class SecretKind(StrEnum):
    """How a value is generated; also what consumers may expect of its characters."""

    #: 32 URL-safe characters (A-Z a-z 0-9 - _): safe in URLs, SQL and INI files
    PASSWORD = "password"
    #: a Fernet key: URL-safe base64 of 32 random bytes (Keystone tokens, credentials)
    FERNET_KEY = "fernet-key"
    #: an Erlang distribution cookie: 20 upper-case letters (RabbitMQ)
    ERLANG_COOKIE = "erlang-cookie"


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret as a service declares it, where it is more than a password by name."""

    name: str
    kind: SecretKind = SecretKind.PASSWORD
    #: why `dcn secrets rotate` refuses it: a redeploy would not apply a new value
    #: safely (see docs/operate.md, "Rotating secrets"); empty when it may be rotated
    not_rotated: str = ""


#: every secret a catalog service declares -> its kind, by name (filled by `declare`)
SECRETS: dict[str, SecretKind] = {}

#: every secret, for the "full TripleO-style" export (TripleO sent all to every edge):
#: a view of the table, so it is complete whenever it is read
ALL_TRIPLEO_STYLE: KeysView[str] = SECRETS.keys()

#: secrets `dcn secrets rotate` refuses, and why (filled by `declare`)
NOT_ROTATED: dict[str, str] = {}


def declare(declared: Iterable[Secret]) -> None:
    """Make the service catalog's secrets the known ones (`dcn.services.catalog` calls it)."""
    table = sorted(declared, key=lambda s: s.name)
    SECRETS.clear()
    SECRETS.update((s.name, s.kind) for s in table)
    NOT_ROTATED.clear()
    NOT_ROTATED.update((s.name, s.not_rotated) for s in table if s.not_rotated)


def _password() -> str:
    return secrets.token_urlsafe(24)  # 24 bytes -> exactly 32 characters, no padding


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _erlang_cookie() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


_GENERATORS = {
    SecretKind.PASSWORD: _password,
    SecretKind.FERNET_KEY: _fernet_key,
    SecretKind.ERLANG_COOKIE: _erlang_cookie,
}


def kind(name: str) -> SecretKind:
    """The kind of secret `name`; a clear error for a name no service uses."""
    if not SECRETS:
        raise RuntimeError("no secret is declared yet: import dcn.services.catalog first")
    try:
        return SECRETS[name]
    except KeyError:
        raise DcnError(
            f"unknown secret {name!r}: no catalog service uses it",
            hint="known secrets: " + ", ".join(SECRETS),
        ) from None


def generate(name: str) -> str:
    """A fresh random value for secret `name` (never logged, never shown)."""
    return _GENERATORS[kind(name)]()
