"""Secret kinds, and how a fresh value of each is made.

Names are TripleO parameter names where TripleO had one (``RabbitPassword``,
``NovaPassword``, ...), so an export stays compatible. Database passwords are
separate secrets TripleO lacked (``NovaDbPassword`` ...): an edge compute never needs
them, so least privilege can leave them on the control plane.

Each service declares the secrets it references in its own module (`dcn.services`);
the table of every secret, with `kind` and `generate` by name, is derived from those
declarations in `dcn.services.catalog`. This module sits below the services.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum


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


def new_value(kind: SecretKind) -> str:
    """A fresh random value of `kind` (never logged, never shown)."""
    return _GENERATORS[kind]()
