"""Crash-report text: known secret values, URL passwords and SQL parameters masked."""

from __future__ import annotations

from dcn import redact


def test_known_values_urls_and_sql_parameters_are_masked() -> None:
    redact.remember(["k3y-value-one", "abc"])  # too short to mask: would hit noise
    text = (
        "failed with k3y-value-one here\n"
        "url postgresql+psycopg://dcn:pa55@db.example.com/dcn and rabbit://u:p%40ss@h:5672/\n"
        "[SQL: UPDATE secret SET value=?]\n"
        "[parameters: ('dcn1:xyz', 3)]\n"
        "DETAIL:  Key (name)=(plain) already exists.\n"
        "abc stays\n"
    )
    out = redact.redact(text)
    assert "k3y-value-one" not in out and "failed with <hidden> here" in out
    assert "pa55" not in out and "postgresql+psycopg://dcn:<hidden>@db.example.com/dcn" in out
    assert "p%40ss" not in out and "rabbit://u:<hidden>@h:5672/" in out
    assert "dcn1:xyz" not in out and "[parameters: <hidden>" in out
    assert "(plain)" not in out and "[SQL: UPDATE secret SET value=?]" in out
    assert "abc stays" in out
