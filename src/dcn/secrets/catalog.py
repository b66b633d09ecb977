"""Every secret a catalog service may reference, and how a fresh value is made.

Names are TripleO parameter names where TripleO had one (``RabbitPassword``,
``NovaPassword``, ...), so an export stays compatible. Database passwords are
separate secrets TripleO lacked (``NovaDbPassword`` ...): an edge compute never needs
them, so least privilege can leave them on the control plane.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
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


_PASSWORDS = (
    "AdminPassword",
    "GlanceDbPassword",
    "GlancePassword",
    "KeystoneDbPassword",
    "MysqlRootPassword",
    "NeutronDbPassword",
    "NeutronPassword",
    "NovaDbPassword",
    "NovaPassword",
    "PlacementDbPassword",
    "PlacementPassword",
    "RabbitPassword",
)
#: Keystone keeps a set of keys (0 = staged, 1 = primary); each key is its own secret
_FERNET_KEYS = (
    "KeystoneCredential0",
    "KeystoneCredential1",
    "KeystoneFernetKey0",
    "KeystoneFernetKey1",
)

SECRETS: dict[str, SecretKind] = dict(
    sorted(
        [(n, SecretKind.PASSWORD) for n in _PASSWORDS]
        + [(n, SecretKind.FERNET_KEY) for n in _FERNET_KEYS]
        + [("RabbitCookie", SecretKind.ERLANG_COOKIE)]
    )
)

#: every secret, for the "full TripleO-style" export (TripleO sent all to every edge)
ALL_TRIPLEO_STYLE: tuple[str, ...] = tuple(SECRETS)


#: secrets `dcn secrets rotate` refuses, and why: a redeploy would not apply a new value
#: safely (see docs/operate.md, "Rotating secrets")
NOT_ROTATED: dict[str, str] = {
    "KeystoneCredential0": "Keystone's credential keys encrypt the credentials it stores; "
    "a new key makes them unreadable (dcn does not run keystone-manage credential_migrate)",
    "KeystoneCredential1": "Keystone's credential keys encrypt the credentials it stores; "
    "a new key makes them unreadable (dcn does not run keystone-manage credential_migrate)",
}


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
