"""Secret values sealed with AES-GCM under the operator's key file.

Each stored value is ``dcn1:`` + URL-safe base64 of (12-byte nonce, ciphertext+tag),
authenticated together with its deployment and name, so a value cannot be altered
nor moved to another secret's row unnoticed. The store's ``meta`` table records a
key id (an HMAC of the key, which reveals nothing of it): a wrong key file is caught
before anything is decrypted, and a missing one is an error, never a new key, once
secrets exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from dcn.errors import StateError
from dcn.state.keyfile import KEY_ENV, KeyFile
from dcn.state.schema import Deployment, Meta, Secret

PREFIX = "dcn1:"
KEY_ID = "secret_key_id"
_NONCE = 12


def key_id(key: bytes) -> str:
    """A name for the key that reveals nothing of it (stored in ``meta``)."""
    return hmac.new(key, b"dcn state key id", hashlib.sha256).hexdigest()[:32]


def _aad(deployment: str, name: str) -> bytes:
    return f"{deployment}\0{name}".encode()


class SecretBox:
    """Seals and opens secret values; never shows its key."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id})"

    def seal(self, deployment: str, name: str, value: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, value.encode(), _aad(deployment, name))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, deployment: str, name: str, token: str) -> str:
        try:
            if not token.startswith(PREFIX):
                raise ValueError("not sealed")
            raw = base64.urlsafe_b64decode(token[len(PREFIX) :])
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _aad(deployment, name)).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise StateError(
                f"secret {name} of deployment {deployment} cannot be decrypted: "
                "its stored value was altered, or sealed under another key",
                hint="restore the state store from a backup made with this key file "
                "(dcn state backup), or import the secret again",
            ) from exc


Executor = Connection | Session


def _meta(conn: Executor, key: str) -> str | None:
    return conn.scalar(select(Meta.value).where(Meta.key == key))


def _set_meta(conn: Executor, key: str, value: str, exists: bool) -> None:
    table: Any = Meta.__table__
    if exists:
        conn.execute(table.update().where(table.c.key == key).values(value=value))
    else:
        conn.execute(table.insert().values(key=key, value=value))


def unlock(
    conn: Executor, keys: KeyFile | None, where: str, record: bool = True
) -> SecretBox | None:
    """The store's box: its key file checked against the recorded key id.

    A missing key file is created only when the store holds no sealed secret; a key
    whose id differs from the recorded one is refused while sealed secrets exist.
    With `record` (inside a write transaction) a new key id is recorded; without it,
    None means "that is needed: call again in a write transaction".
    """
    if keys is None:
        raise StateError(
            f"no key file for the secrets of the state store {where}",
            hint=f"set {KEY_ENV}=/path/to/key (a 0600 file of yours)",
        )
    recorded = _meta(conn, KEY_ID)
    sealed = recorded is not None and conn.scalar(select(Secret.id).limit(1)) is not None
    key = keys.load()
    if key is None:
        if sealed:
            raise StateError(
                f"the state store {where} holds encrypted secrets, but their key file "
                f"{keys.path} does not exist",
                hint=keys.describe_missing(),
            )
        if not record:
            return None
        key = keys.create()
    box = SecretBox(key)
    if recorded != box.key_id:
        if sealed:
            expected = (recorded or "")[:12]
            raise StateError(
                f"the key file {keys.path} is not the key of the state store {where} "
                f"(key id {box.key_id[:12]}..., the store expects {expected}...)",
                hint=f"point {KEY_ENV} at the key file this state was created with; "
                "nothing was decrypted",
            )
        if not record:
            return None
        _set_meta(conn, KEY_ID, box.key_id, exists=recorded is not None)
    return box


def seal_plaintext(conn: Connection, keys: KeyFile | None, where: str) -> int:
    """Schema 2 -> 3: encrypt every plaintext value in place; return how many."""
    rows = conn.execute(
        select(Secret.id, Deployment.name.label("deployment"), Secret.name, Secret.value).join(
            Deployment, Secret.deployment_id == Deployment.id
        )
    ).all()
    plain = [r for r in rows if not r.value.startswith(PREFIX)]
    if not plain:
        return 0
    box = unlock(conn, keys, where)
    if box is None:  # record=True gives a box or raises
        raise StateError(f"cannot unlock the secrets of {where}", hint="re-run the command")
    table: Any = Secret.__table__
    for r in plain:
        sealed = box.seal(r.deployment, r.name, r.value)
        conn.execute(table.update().where(table.c.id == r.id).values(value=sealed))
    return len(plain)
