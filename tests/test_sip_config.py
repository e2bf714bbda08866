"""The `signaling`/`sip_*` keys and `--sip-uri`/`--sip-ws` (docs/protocol.md section 3, 1.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone.cli import _settings, build_parser, main
from softphone.config import ConfigError, load_settings
from softphone.redact import secrets_of

SECRET = "sip-secret-never-shown"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_sip_keys_load_and_the_password_stays_out_of_repr(tmp_path: Path) -> None:
    settings = load_settings(_file(tmp_path, f"""
signaling = "sip"
sip_uri = "sip:alice@example.org"
sip_ws = "wss://sip.example.org:8443"
sip_auth_user = "alice-auth"
sip_password = "{SECRET}"
sip_outbound_proxy = "sip:proxy.example.org;transport=ws"
sip_display_name = "Alice A"
"""))  # fmt: skip
    assert settings.signaling == "sip" and settings.sip_uri == "sip:alice@example.org"
    assert settings.sip_password == SECRET and SECRET not in repr(settings)
    assert SECRET in secrets_of(settings)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('signaling = "xmpp"', "signaling: must be 'json' or 'sip'"),
        ('sip_uri = "alice@example.org"', "sip_uri: not a valid SIP URI"),
        ('sip_uri = "sip:example.org"', "sip_uri: the SIP URI has no user part"),
        ('sip_ws = "http://x"', "sip_ws: must be a ws:// or wss:// URL"),
        ('sip_display_name = "A \\"quoted\\""', "sip_display_name: must be non-empty"),
        ("sip_password = 5", "sip_password: expected a string, got an integer"),
    ],
)
def test_a_bad_sip_value_names_the_key(tmp_path: Path, line: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(_file(tmp_path, line + "\n"))


def test_a_wrong_password_type_is_named_without_its_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_file(tmp_path, 'sip_password = ""\n'))
    assert "sip_password: must not be empty" in str(caught.value)


def test_sip_uri_and_ws_on_the_command_line_select_sip(tmp_path: Path) -> None:
    empty = _file(tmp_path, "")
    args = build_parser().parse_args(
        [
            "--config",
            str(empty),
            "--sip-uri",
            "sip:bob@127.0.0.1",
            "--sip-ws",
            "ws://127.0.0.1:8080",
        ]
    )
    settings = _settings(args)
    assert settings.signaling == "sip" and settings.sip_ws == "ws://127.0.0.1:8080"


def test_sip_without_a_websocket_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _file(tmp_path, "")
    assert main(["--headless", "--config", str(empty), "--sip-uri", "sip:bob@127.0.0.1"]) == 2
    assert "needs sip_uri and sip_ws" in capsys.readouterr().err


def test_there_is_no_password_option() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--sip-password", SECRET])
