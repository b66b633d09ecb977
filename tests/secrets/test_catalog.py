"""Secret kinds and generation: right shape per kind, fresh every time, names known."""

from __future__ import annotations

import base64
import re

import pytest

from dcn.errors import DcnError
from dcn.secrets.catalog import SecretKind
from dcn.services.catalog import ALL_TRIPLEO_STYLE, SECRETS, SERVICES, generate, kind


def test_every_service_secret_is_in_the_catalog_and_the_full_export() -> None:
    used = {s for svc in SERVICES.values() for s in svc.secrets}
    assert used <= set(SECRETS)
    assert set(ALL_TRIPLEO_STYLE) == set(SECRETS)
    assert list(ALL_TRIPLEO_STYLE) == sorted(ALL_TRIPLEO_STYLE)


def test_kinds() -> None:
    assert kind("NovaPassword") is SecretKind.PASSWORD
    assert kind("NovaDbPassword") is SecretKind.PASSWORD
    assert kind("KeystoneFernetKey0") is SecretKind.FERNET_KEY
    assert kind("KeystoneCredential1") is SecretKind.FERNET_KEY
    assert kind("RabbitCookie") is SecretKind.ERLANG_COOKIE


def test_password_shape() -> None:
    value = generate("RabbitPassword")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", value)


def test_fernet_key_is_32_bytes_of_urlsafe_base64() -> None:
    value = generate("KeystoneFernetKey1")
    assert len(value) == 44
    assert len(base64.urlsafe_b64decode(value)) == 32


def test_erlang_cookie_shape() -> None:
    assert re.fullmatch(r"[A-Z]{20}", generate("RabbitCookie"))


@pytest.mark.parametrize("name", ["AdminPassword", "KeystoneCredential0", "RabbitCookie"])
def test_two_calls_differ(name: str) -> None:
    assert generate(name) != generate(name)


def test_unknown_name_is_a_clear_error_without_a_value() -> None:
    with pytest.raises(DcnError, match="unknown secret 'CinderPassword'") as err:
        generate("CinderPassword")
    assert "NovaPassword" in err.value.hint
