"""Configuration: a bad file stops start-up with one line naming the file, key and expectation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailbot import config as config_mod
from mailbot.errors import ConfigError
from tests.conftest import REPO, copy_desks


def _load_with(
    tmp_path: Path, main: str, desk_files: dict[str, str] | None = None
) -> config_mod.Config:
    cfg_dir = tmp_path / "config"
    cfg_dir.mkdir(exist_ok=True)
    desks = cfg_dir / "desks"
    desks.mkdir(exist_ok=True)
    for name, text in (
        desk_files or {"a.toml": 'addresses = ["help@a.test"]\nticket_prefix = "AA"\n'}
    ).items():
        (desks / name).write_text(text)
    path = cfg_dir / "mailbot.toml"
    path.write_text(main)
    return config_mod.load(path, environ={})


def test_shipped_config_loads_with_the_five_desks() -> None:
    config = config_mod.load(REPO / "config" / "mailbot.toml", environ={})
    assert set(config.desks) == {"serwisant", "cloudempiere", "grsoft", "crmonline", "cleverbox"}
    assert config.desk_for_address("support@cleverbox.test").ticket_prefix == "CBX"  # type: ignore[union-attr]
    # plus-addressing belongs to the base address's desk; other addresses belong to none
    assert (
        config.desk_for_address("Support+CBX-000042.ab12@CleverBox.test")
        is config.desks["cleverbox"]
    )
    assert config.desk_for_address("someone@cleverbox.test") is None
    assert config.database_url == f"sqlite:///{REPO / 'var' / 'mailbot.db'}"


def test_wrong_type_names_file_key_and_expectation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load_with(tmp_path, '[smtp]\nmax_message_size = "big"\n')
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "config" / "mailbot.toml"))
    assert "smtp.max_message_size" in message and "integer" in message and "'big'" in message


def test_bad_listen_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"smtp\.listen: expected host:port"):
        _load_with(tmp_path, '[smtp]\nlisten = "localhost"\n')


def test_unknown_key_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"smtp\.max_mesage_size: unknown key"):
        _load_with(tmp_path, "[smtp]\nmax_mesage_size = 10\n")


def test_broken_toml_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mailbot\.toml: not valid TOML: .*line 1"):
        _load_with(tmp_path, "[smtp\n")


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config_mod.load(Path("/nonexistent/mailbot.toml"), environ={})


@pytest.mark.parametrize(
    ("desk", "expected"),
    [
        (
            'addresses = ["not-an-address"]\nticket_prefix = "AA"\n',
            r"a\.toml: addresses: expected e-mail",
        ),
        (
            'addresses = ["a@b.test"]\nticket_prefix = "aa-1"\n',
            r"a\.toml: ticket_prefix: String should match",
        ),
        (
            'addresses = ["a@b.test"]\nticket_prefix = "AA"\ntimezone = "Mars/Olympus"\n',
            r"a\.toml: timezone: expected an IANA time zone",
        ),
        (
            'addresses = ["a@b.test"]\nticket_prefix = "AA"\nfallback_charsets = ["klingon"]\n',
            r"a\.toml: fallback_charsets: unknown charset 'klingon'",
        ),
        ('ticket_prefix = "AA"\n', r"a\.toml: addresses: Field required"),
    ],
)
def test_bad_desk_file(tmp_path: Path, desk: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        _load_with(tmp_path, "", {"a.toml": desk})


def test_one_address_two_desks(tmp_path: Path) -> None:
    desk = 'addresses = ["help@a.test"]\nticket_prefix = "AA"\n'
    with pytest.raises(
        ConfigError, match=r"b\.toml: addresses: help@a\.test is already the address of"
    ):
        _load_with(tmp_path, "", {"a.toml": desk, "b.toml": desk})


def test_environment_overrides_database_and_relay(tmp_path: Path) -> None:
    copy_desks(tmp_path / "config")
    path = tmp_path / "config" / "mailbot.toml"
    path.write_text("")
    config = config_mod.load(
        path,
        environ={
            "MAILBOT_DATABASE_URL": "postgresql://u@db:5432/x",
            "MAILBOT_RELAY_URL": "smtp://bot%40x:p%3Ass@relay.test:587?tls=starttls",
        },
    )
    assert config.database_url == "postgresql://u@db:5432/x"
    relay = config.settings.outbound.relay
    assert relay is not None
    assert (relay.host, relay.port, relay.tls, relay.username, relay.password) == (
        "relay.test",
        587,
        "starttls",
        "bot@x",
        "p:ss",
    )
    with pytest.raises(ConfigError, match="MAILBOT_RELAY_URL: expected smtp://"):
        config_mod.load(path, environ={"MAILBOT_RELAY_URL": "http://relay"})


def test_unknown_rule_stops_start_up(tmp_path: Path) -> None:
    from mailbot.rules import load_rules

    config = _load_with(
        tmp_path,
        "",
        {
            "a.toml": 'addresses = ["a@b.test"]\nticket_prefix = "AA"\n'
            'rules = ["loops", "no_such_rule"]\n'
        },
    )
    with pytest.raises(ConfigError, match=r"a\.toml: rules: unknown rule 'no_such_rule'"):
        load_rules(config.desks["a"], config.desk_files["a"])


def _keys(table: dict[str, object], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        full = f"{prefix}{key}"
        keys.add(full)
        if isinstance(value, dict):
            keys |= _keys(value, f"{full}.")
    return keys


def test_readme_documents_every_setting() -> None:
    """Every key of the main file and of a desk file appears in the README's reference."""
    readme = (REPO / "README.md").read_text()
    reference = readme[readme.index("## Configuration reference") :]
    documented = set(re.findall(r"`([a-z_.]+)`", reference))
    main_keys = {
        f"{section}.{field}"
        for section, model in config_mod.Settings.model_fields.items()
        if hasattr(model.annotation, "model_fields")
        for field in model.annotation.model_fields
    }  # type: ignore[union-attr]
    main_keys |= {
        k
        for k, m in config_mod.Settings.model_fields.items()
        if not hasattr(m.annotation, "model_fields")
    }
    main_keys |= {f"outbound.relay.{f}" for f in config_mod.RelaySettings.model_fields}
    main_keys.discard("outbound.relay")
    main_keys |= {f"imap.{f}" for f in config_mod.ImapMailbox.model_fields}
    desk_keys = {f"desk.{f}" for f in config_mod.DeskSettings.model_fields}
    desk_keys |= {f"customer.{f}" for f in config_mod.Customer.model_fields}
    desk_keys |= {f"calendar.{f}" for f in config_mod.CalendarSettings.model_fields}
    desk_keys |= {f"sla.{f}" for f in config_mod.SlaSettings.model_fields}
    desk_keys |= {f"target.{f}" for f in config_mod.SlaTarget.model_fields}
    missing = sorted((main_keys | desk_keys) - documented)
    assert not missing, f"README configuration reference lacks: {missing}"
