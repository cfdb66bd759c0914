"""The signed Reply-To: only the agent it was made for, on the ticket it names, verifies."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mailbot.agent_address import Secrets, load_secrets, parse_signed, signed_address, verify
from mailbot.errors import ConfigError

OLD = Secrets((b"old-secret-0123456789",))
NEW = Secrets((b"new-secret-0123456789", b"old-secret-0123456789"))


def test_the_agent_it_was_made_for_verifies_on_its_ticket() -> None:
    address = signed_address("support@cleverbox.test", "CBX-000042", "duty@cleverbox.test", OLD)
    assert address.startswith("support+cbx-000042.") and address.endswith("@cleverbox.test")
    signed = parse_signed(address.upper())  # a mail system may change the case
    assert signed is not None
    assert (signed.base, signed.number) == ("support@cleverbox.test", "CBX-000042")
    assert verify(OLD, signed, "Duty@CleverBox.test")


@pytest.mark.parametrize(
    "number, agent",
    [("CBX-000043", "duty@cleverbox.test"), ("CBX-000042", "lead@cleverbox.test")],
    ids=["another ticket", "another agent"],
)
def test_a_signature_is_good_for_one_ticket_and_one_agent(number: str, agent: str) -> None:
    made = parse_signed(
        signed_address("support@cleverbox.test", "CBX-000042", "duty@cleverbox.test", OLD)
    )
    assert made is not None
    moved = type(made)(made.base, number, made.signature)
    assert not verify(OLD, moved, agent)


def test_a_tampered_signature_fails() -> None:
    made = parse_signed(
        signed_address("support@cleverbox.test", "CBX-000042", "duty@cleverbox.test", OLD)
    )
    assert made is not None
    flipped = ("b" if made.signature[0] == "a" else "a") + made.signature[1:]
    assert not verify(OLD, type(made)(made.base, made.number, flipped), "duty@cleverbox.test")


def test_rotation_old_addresses_keep_working_while_the_new_secret_signs() -> None:
    before = parse_signed(signed_address("s@d.test", "CBX-000001", "a@d.test", OLD))
    after = parse_signed(signed_address("s@d.test", "CBX-000001", "a@d.test", NEW))
    assert before is not None and after is not None
    assert before.signature != after.signature
    assert verify(NEW, before, "a@d.test") and verify(NEW, after, "a@d.test")
    assert not verify(OLD, after, "a@d.test")


@pytest.mark.parametrize(
    "address",
    ["support@cleverbox.test", "support+cbx-000042@cleverbox.test", "support+x.abc@d.test"],
)
def test_addresses_not_shaped_like_a_signed_one_are_not(address: str) -> None:
    assert parse_signed(address) is None


def test_the_secret_file_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "agent-secrets"
    first = load_secrets(None, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secrets(None, path) == first
    assert load_secrets("a" * 20 + ", " + "b" * 20, path).accepted == (b"a" * 20, b"b" * 20)


def test_a_short_or_empty_secret_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_secrets("short", tmp_path / "x")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="no agent secret"):
        load_secrets(None, tmp_path / "empty")
