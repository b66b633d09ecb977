"""File specs: the secrets list comes from the content, and secret files are private."""

from __future__ import annotations

import pytest

from dcn.plan.types import secret_ref
from dcn.services.render import file_spec, referenced_secrets, url_host


def test_referenced_secrets_sorted_unique() -> None:
    nova, admin = secret_ref("NovaPassword"), secret_ref("AdminPassword")
    text = f"a={nova} b={admin} c={nova}"
    assert referenced_secrets(text) == ("AdminPassword", "NovaPassword")
    assert referenced_secrets("no references, not even @@dcn-secret:") == ()


def test_file_spec_modes() -> None:
    assert file_spec("plain").mode == "0644"
    secret = file_spec(f"p={secret_ref('RabbitPassword')}")
    assert (secret.mode, secret.secrets) == ("0640", ("RabbitPassword",))
    assert file_spec(secret_ref("RabbitCookie"), mode="0400").secrets == ("RabbitCookie",)
    with pytest.raises(ValueError, match="must not have mode 0644"):
        file_spec(secret_ref("RabbitCookie"), mode="0644")


def test_url_host_brackets_ipv6_only() -> None:
    assert url_host("198.18.16.5") == "198.18.16.5"
    assert url_host("fd00:dc::5") == "[fd00:dc::5]"
    assert url_host("[fd00:dc::5]") == "[fd00:dc::5]"
    assert url_host("central-controller-0.internalapi.localdomain").endswith("localdomain")
