"""The key that encrypts the state store's secrets: a separate 0600 file of the operator.

By default the key sits beside the state directory (``.dcn`` -> ``.dcn.key``), so a
copy of the state directory, a backup of ``state.db`` or a PostgreSQL dump holds
ciphertext only. ``DCN_KEY_FILE`` keeps it elsewhere (another disk, a secrets
manager's mount). A key file is trusted only when it is a regular file owned by the
current user that nobody else may read; it is created (O_EXCL, never overwritten)
only when the store holds no secret yet: see `dcn.state.sealing.unlock`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dcn.errors import StateError

KEY_ENV = "DCN_KEY_FILE"
KEY_BYTES = 32
_MAX_SIZE = 4096


def default_key_path(state_dir: Path | None) -> Path | None:
    """``DCN_KEY_FILE`` if set, else ``<state_dir>.key`` (a sibling of the state dir)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env)
    if state_dir is None:
        return None
    state_dir = Path(state_dir)
    return state_dir.with_name(state_dir.name + ".key")


def _untrusted(path: Path, why: str, hint: str) -> StateError:
    return StateError(f"the key file {path} {why}", hint=hint)


@dataclass(frozen=True, slots=True)
class KeyFile:
    """Where the key is; reading checks owner and mode, creating never replaces one."""

    path: Path

    def describe_missing(self) -> str:
        return (
            f"keep the key file given to this state at {self.path}, or point at it with "
            f"{KEY_ENV}=/path/to/key; dcn never makes a new key for a store that holds "
            "secrets (they could not be decrypted)"
        )

    def load(self) -> bytes | None:
        """The key, or None when the file does not exist; StateError when it is not trusted."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _untrusted(
                self.path,
                f"cannot be opened: {exc.strerror} (a symbolic link is never followed)",
                f"make it a regular file of yours, mode 0600, or set {KEY_ENV}",
            ) from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _untrusted(self.path, "is not a regular file", f"set {KEY_ENV} to the key")
            if info.st_uid != os.geteuid():
                raise _untrusted(
                    self.path,
                    f"is owned by uid {info.st_uid}, not by you (uid {os.geteuid()})",
                    "a key file someone else owns could be swapped; copy it to a file of "
                    f"yours (mode 0600) and point {KEY_ENV} at it",
                )
            if stat.S_IMODE(info.st_mode) & 0o077:
                raise _untrusted(
                    self.path,
                    f"may be read by others (mode {stat.S_IMODE(info.st_mode):04o})",
                    f"chmod 600 {self.path} (and consider the key exposed if others read it)",
                )
            raw = os.read(fd, _MAX_SIZE + 1)
        finally:
            os.close(fd)
        return self._decode(raw)

    def _decode(self, raw: bytes) -> bytes:
        try:
            key = base64.urlsafe_b64decode(raw.strip())
        except (binascii.Error, ValueError):
            key = b""
        if len(raw) > _MAX_SIZE or len(key) != KEY_BYTES:
            raise _untrusted(
                self.path,
                f"does not hold a dcn key (URL-safe base64 of {KEY_BYTES} bytes)",
                f"point {KEY_ENV} at the key file dcn created for this state",
            )
        return key

    def create(self) -> bytes:
        """Write a new random key 0600 (atomically); a key that appeared meanwhile wins."""
        parent = self.path.parent
        try:
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".dcn-key-", dir=parent)  # 0600, O_EXCL
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(base64.urlsafe_b64encode(os.urandom(KEY_BYTES)) + b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                with contextlib.suppress(FileExistsError):  # a key that exists wins
                    os.link(tmp, self.path)  # never overwrites
            finally:
                os.unlink(tmp)
        except OSError as exc:
            raise StateError(
                f"cannot create the key file {self.path}: {exc.strerror}",
                hint=f"choose a directory you own for it with {KEY_ENV}=/path/to/key",
            ) from exc
        key = self.load()
        if key is None:
            raise StateError(
                f"the key file {self.path} vanished right after it was created",
                hint="another process removed it; re-run the command",
            )
        return key
