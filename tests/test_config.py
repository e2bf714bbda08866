"""The TOML configuration file and command-line overrides (docs/protocol.md section 3)."""

from __future__ import annotations

import time
from pathlib import Path

import platformdirs
import pytest

from softphone.config import (
    ConfigError,
    Region,
    Settings,
    default_config_path,
    load_settings,
    regions_to_data,
    with_overrides,
)
from softphone.redact import redact, secrets_of
from softphone.rtc.configuration import Configuration, IceServer
from softphone.signaling.turn_rest import RegionCredentials, mint_credential

TURN_USER = "turnuser-Qx81"
TURN_SECRET = "hunter2-Vb55"
TOKEN = "tok-Mm93-secret"

FULL = f"""
user = "alice"
server = "ws://127.0.0.1:8765/ws"
token = "{TOKEN}"
ice_transport_policy = "relay"
ice_host_addresses = ["127.0.0.1", "::1"]
region = "eu-west"
fallback_region = "us-east"
audio_in = "tone:440"
audio_out = "null"
theme = "nord"

[[regions]]
name = "eu-west"
[[regions.ice_servers]]
urls = ["stun:127.0.0.1:3478"]
[[regions.ice_servers]]
urls = "turn:127.0.0.2:3478?transport=udp"
username = "{TURN_USER}"
credential = "{TURN_SECRET}"

[[regions]]
name = "us-east"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    assert_no_secret(message)
    return message


def assert_no_secret(text: str) -> None:
    for secret in (TURN_USER, TURN_SECRET, TOKEN):
        assert secret not in text


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read the developer's real config."""
    monkeypatch.setenv("SOFTPHONE_CONFIG", str(tmp_path / "absent" / "config.toml"))


# -- loading -------------------------------------------------------------------


def test_full_file_loads(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL))
    assert settings.user == "alice"
    assert settings.server == "ws://127.0.0.1:8765/ws"
    assert settings.token == TOKEN
    assert settings.ice_transport_policy == "relay"
    assert settings.ice_host_addresses == ("127.0.0.1", "::1")
    assert settings.region == "eu-west"
    assert settings.fallback_region == "us-east"
    assert (settings.audio_in, settings.audio_out, settings.theme) == ("tone:440", "null", "nord")
    assert settings.regions == (
        Region(
            "eu-west",
            (
                IceServer(("stun:127.0.0.1:3478",)),
                IceServer(("turn:127.0.0.2:3478?transport=udp",), TURN_USER, TURN_SECRET),
            ),
        ),
        Region("us-east", ()),
    )


def test_missing_default_file_gives_defaults() -> None:
    assert not default_config_path().exists()
    assert load_settings() == Settings()
    assert Settings().audio_in == "default"
    assert Settings().ice_transport_policy == "all"


def test_default_path_comes_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, 'user = "bob"\n')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTPHONE_CONFIG", str(path))
        assert default_config_path() == path
        assert load_settings().user == "bob"


def test_default_path_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOFTPHONE_CONFIG")
    expected = Path(platformdirs.user_config_dir("softphone")) / "config.toml"
    assert default_config_path() == expected


def test_missing_explicit_file_is_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert "no such" in str(info.value)


def test_path_may_be_a_string(tmp_path: Path) -> None:
    assert load_settings(str(write(tmp_path, 'user = "bob"\n'))).user == "bob"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "")) == Settings()


def test_malformed_toml_names_line_and_column(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'user = "alice"\ncredential = {TURN_SECRET}\n')
    assert "line 2, column" in message
    assert "TOML syntax error" in message


def test_not_utf8_is_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'user = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "UTF-8" in str(info.value)


def test_directory_is_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert "cannot read" in str(info.value)


# -- top-level keys ------------------------------------------------------------


def test_unknown_top_level_key_suggests_fix(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'regoin = "eu-west"\n')
    assert "unknown key 'regoin'" in message
    assert "did you mean 'region'" in message


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        ("user = 3", "user", "expected a string, got an integer"),
        (f'token = ["{TOKEN}"]', "token", "expected a string, got an array"),
        ("server = true", "server", "got a boolean"),
        ('ice_host_addresses = "127.0.0.1"', "ice_host_addresses", "expected an array"),
        ("ice_host_addresses = [1]", "ice_host_addresses[0]", "expected an IP address string"),
        ("audio_in = 1.5", "audio_in", "got a float"),
        ("theme = {}", "theme", "got a table"),
        ('regions = "eu"', "regions", "expected an array of [[regions]] tables"),
    ],
)
def test_wrong_types_are_named(tmp_path: Path, line: str, key: str, problem: str) -> None:
    message = load_error(tmp_path, line + "\n")
    assert f": {key}: " in message
    assert problem in message


@pytest.mark.parametrize("name", ["", "a" * 65, "al ice", "bob!", "émile"])
def test_user_name_rule(tmp_path: Path, name: str) -> None:
    message = load_error(tmp_path, f'user = "{name}"\n')
    assert ": user: invalid user name" in message
    assert "1-64 letters, digits" in message


def test_user_name_rule_accepts_allowed_characters(tmp_path: Path) -> None:
    name = "A.b_c-9" + "x" * 57
    assert load_settings(write(tmp_path, f'user = "{name}"\n')).user == name


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8765/ws", "got scheme 'http'"),
        ("127.0.0.1:8765", "must be a ws:// or wss:// URL"),
        ("ws:///ws", "has no host"),
        ("ws://127.0.0.1:99999/ws", "bad host or port"),
    ],
)
def test_server_must_be_websocket_url(tmp_path: Path, url: str, problem: str) -> None:
    message = load_error(tmp_path, f'server = "{url}"\n')
    assert ": server: " in message
    assert problem in message


def test_server_url_with_token_is_not_echoed(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'server = "http://h/ws?token={TOKEN}"\n')
    assert "ws://" in message


def test_wss_server_is_accepted(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, 'server = "wss://example.net/ws"\n'))
    assert settings.server == "wss://example.net/ws"


def test_ice_transport_policy_values(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'ice_transport_policy = "relayed"\n')
    assert ": ice_transport_policy: must be 'all' or 'relay', got 'relayed'" in message


def test_ice_host_addresses_must_be_ips(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'ice_host_addresses = ["127.0.0.1", "localhost"]\n')
    assert "ice_host_addresses[1]: 'localhost' is not an IP address" in message


# -- regions -------------------------------------------------------------------


def test_unknown_start_region_lists_known(tmp_path: Path) -> None:
    text = FULL.replace('region = "eu-west"', 'region = "ap-south"')
    message = load_error(tmp_path, text)
    assert ": region: unknown region 'ap-south'" in message
    assert "configured regions: eu-west, us-east" in message


def test_unknown_fallback_region(tmp_path: Path) -> None:
    text = FULL.replace('fallback_region = "us-east"', 'fallback_region = "mars"')
    message = load_error(tmp_path, text)
    assert ": fallback_region: unknown region 'mars'" in message


def test_region_without_any_regions(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'region = "eu-west"\n')
    assert "no regions are configured" in message


def test_duplicate_region_names(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[[regions]]\nname = "a"\n[[regions]]\nname = "a"\n')
    assert "regions[1].name: region 'a' is already defined at regions[0]" in message


def test_region_needs_a_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, "[[regions]]\n[[regions.ice_servers]]\nurls = []\n")
    assert "regions[0]: missing required key 'name'" in message


def test_unknown_region_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[[regions]]\nname = "a"\nice_server = []\n')
    assert "regions[0].ice_server: unknown key 'ice_server'" in message
    assert "did you mean 'ice_servers'" in message


def test_unknown_ice_server_key_hides_nothing_secret(tmp_path: Path) -> None:
    text = '[[regions]]\nname = "a"\n[[regions.ice_servers]]\nurls = ["stun:h"]\npassword = "x"\n'
    message = load_error(tmp_path, text)
    assert 'regions[0].ice_servers[0].password (region "a"): unknown key' in message


def test_urls_wrong_type_names_key_path(tmp_path: Path) -> None:
    text = '[[regions]]\nname = "a"\n[[regions]]\nname = "b"\n[[regions.ice_servers]]\nurls = [1]\n'
    message = load_error(tmp_path, text)
    assert 'regions[1].ice_servers[0].urls (region "b"): expected a string or an array' in message


def test_credential_wrong_type_not_echoed(tmp_path: Path) -> None:
    text = (
        '[[regions]]\nname = "a"\n[[regions.ice_servers]]\n'
        f'urls = ["turn:h"]\nusername = "{TURN_USER}"\ncredential = ["{TURN_SECRET}"]\n'
    )
    message = load_error(tmp_path, text)
    assert 'regions[0].ice_servers[0].credential (region "a"): expected a string' in message


def test_turn_url_without_credentials(tmp_path: Path) -> None:
    text = (
        '[[regions]]\nname = "eu-west"\n[[regions.ice_servers]]\nurls = ["stun:127.0.0.1"]\n'
        f'[[regions.ice_servers]]\nurls = ["turn:127.0.0.2:3478"]\nusername = "{TURN_USER}"\n'
    )
    message = load_error(tmp_path, text)
    assert message.endswith(
        'config.toml: region "eu-west": InvalidAccessError: TURN URL turn:127.0.0.2:3478 '
        "needs a username and credential (regions[0].ice_servers[1])"
    )


def test_bad_url_scheme(tmp_path: Path) -> None:
    text = (
        '[[regions]]\nname = "eu-west"\n[[regions.ice_servers]]\n'
        f'urls = ["http://127.0.0.1:3478"]\nusername = "{TURN_USER}"\n'
        f'credential = "{TURN_SECRET}"\n'
    )
    message = load_error(tmp_path, text)
    assert 'config.toml: region "eu-west": SyntaxError: ' in message
    assert "http://127.0.0.1:3478" in message
    assert "unknown scheme 'http'" in message
    assert "(regions[0].ice_servers[0])" in message


def test_empty_urls_is_syntax_error(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[[regions]]\nname = "x"\n[[regions.ice_servers]]\nurls = []\n')
    assert 'region "x": SyntaxError: an ICE server has an empty urls list' in message


def test_settings_repr_hides_secrets(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL))
    assert_no_secret(repr(settings))
    assert "turn:127.0.0.2:3478" in repr(settings)


# -- Settings methods ------------------------------------------------------------


def test_region_named_and_unknown(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL))
    assert settings.region_named("us-east") == Region("us-east", ())
    with pytest.raises(ConfigError) as info:
        settings.region_named("mars")
    assert "unknown region 'mars'" in str(info.value)
    assert "eu-west, us-east" in str(info.value)


def test_configuration_for(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL))
    config = settings.configuration_for("eu-west")
    assert config == Configuration(
        ice_servers=settings.regions[0].ice_servers, ice_transport_policy="relay"
    )
    assert settings.configuration_for("us-east").ice_servers == ()
    assert settings.configuration_for(None) == Configuration(ice_transport_policy="relay")


# -- command-line overrides ------------------------------------------------------


def test_overrides_apply_and_none_means_not_given(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL))
    result = with_overrides(
        settings, user="bob", region="us-east", server=None, audio_in="silence",
        ice_host_addresses=["10.0.0.1"],
    )  # fmt: skip
    assert (result.user, result.region, result.audio_in) == ("bob", "us-east", "silence")
    assert result.server == settings.server
    assert result.ice_host_addresses == ("10.0.0.1",)
    assert with_overrides(settings) == settings


def test_override_unknown_region(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL))
    with pytest.raises(ConfigError) as info:
        with_overrides(settings, region="mars")
    assert "command line: --region: unknown region 'mars'" in str(info.value)
    assert "eu-west, us-east" in str(info.value)


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("user", "no spaces", "--user: invalid user name"),
        ("server", "http://h/ws", "--server: must be a ws:// or wss:// URL"),
        ("ice_transport_policy", "none", "--ice-transport-policy: must be 'all' or 'relay'"),
        ("ice_host_addresses", "eth0", "--ice-host[0]: 'eth0' is not an IP address"),
        ("fallback_region", "x", "--fallback-region: unknown region 'x'"),
        ("audio_out", "", "--audio-out: must not be empty"),
    ],
)
def test_overrides_are_validated(option: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        with_overrides(Settings(), **{option: value})
    assert "command line" in str(info.value)
    assert problem in str(info.value)


def test_override_token_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        with_overrides(Settings(), token=123)
    assert "--token: expected a string" in str(info.value)
    assert repr(TOKEN) not in repr(with_overrides(Settings(), token=TOKEN))
    assert TOKEN not in repr(with_overrides(Settings(), token=TOKEN))


def test_override_unknown_option_is_type_error() -> None:
    with pytest.raises(TypeError):
        with_overrides(Settings(), colour="red")


# -- TURN REST shared secrets (1.1) ----------------------------------------------

SHARED = "coturn-static-secret-Zk42"


def secret_region(extra: str = "", ttl: str = "credential_ttl = 3") -> str:
    return f"""
[[regions]]
name = "eu-west"
[[regions.ice_servers]]
urls = "stun:127.0.0.1:3478"
[[regions.ice_servers]]
urls = "turn:127.0.0.2:3478?transport=udp"
# a comment naming shared_secret = "not this one"
shared_secret = "{SHARED}"
{ttl}
{extra}
"""


def test_shared_secret_entry_loads_and_is_passed_to_the_server(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, secret_region()))
    region = settings.region_named("eu-west")
    assert region.ice_servers[1] == IceServer(("turn:127.0.0.2:3478?transport=udp",))
    assert SHARED not in repr(settings)
    assert regions_to_data(settings.regions) == [
        {
            "name": "eu-west",
            "ice_servers": [
                {"urls": ["stun:127.0.0.1:3478"]},
                {
                    "urls": ["turn:127.0.0.2:3478?transport=udp"],
                    "shared_secret": SHARED,
                    "credential_ttl": 3,
                },
            ],
        }
    ]
    # What the server makes of it: credentials minted per user, no secret.
    minted = RegionCredentials(regions_to_data(settings.regions)).for_user("alice", now=1000)
    assert minted[0]["ice_servers"][1] == {
        "urls": ["turn:127.0.0.2:3478?transport=udp"],
        "username": "1003:alice",
        "credential": mint_credential(SHARED, "alice", 3, now=1000)[1],
    }


def test_a_client_holding_the_secret_mints_its_own_credentials(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, 'user = "bob"\n' + secret_region(ttl="")))
    server = settings.configuration_for("eu-west").ice_servers[1]
    assert server.username is not None and server.username.endswith(":bob")
    expiry = int(server.username.split(":")[0])
    assert expiry - 3600 - 5 <= int(time.time()) <= expiry - 3600
    assert server.credential == mint_credential(SHARED, "bob", 3600, now=expiry - 3600)[1]


def test_shared_secret_with_username_names_file_line_region_and_url(tmp_path: Path) -> None:
    message = load_error(tmp_path, secret_region(extra=f'username = "{TURN_USER}"'))
    assert str(tmp_path / "config.toml") in message
    assert "line 9:" in message  # the shared_secret line, not the comment's
    assert 'regions[0].ice_servers[1] (region "eu-west")' in message
    assert "turn:127.0.0.2:3478?transport=udp" in message
    assert "shared_secret replaces username/credential" in message
    assert SHARED not in message and TURN_USER not in message


@pytest.mark.parametrize(
    ("ttl", "problem"),
    [
        ("credential_ttl = 0", "got 0"),
        ("credential_ttl = 2.5", "got a float"),
        ('credential_ttl = "1h"', "got a string"),
        ("credential_ttl = true", "got a boolean"),
    ],
)
def test_credential_ttl_is_whole_seconds(tmp_path: Path, ttl: str, problem: str) -> None:
    message = load_error(tmp_path, secret_region(ttl=ttl))
    assert "credential_ttl: expected a whole number of seconds >= 1" in message
    assert problem in message and SHARED not in message


def test_empty_or_non_string_shared_secret(tmp_path: Path) -> None:
    text = secret_region().replace(f'"{SHARED}"', '""')
    assert "shared_secret: expected a non-empty string" in load_error(tmp_path, text)


def test_credential_ttl_without_shared_secret(tmp_path: Path) -> None:
    text = FULL.replace(
        f'credential = "{TURN_SECRET}"', f'credential = "{TURN_SECRET}"\ncredential_ttl = 60'
    )
    message = load_error(tmp_path, text)
    assert "credential_ttl" in message and "only goes with shared_secret" in message
    assert TURN_SECRET not in message


def test_shared_secret_entry_still_gets_the_url_checks(tmp_path: Path) -> None:
    text = secret_region().replace("turn:127.0.0.2:3478?transport=udp", "turn:127.0.0.2:0")
    message = load_error(tmp_path, text)
    assert "regions[0].ice_servers[1]" in message and SHARED not in message


def test_redaction_covers_the_shared_secret(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, secret_region()))
    assert SHARED in secrets_of(settings)
    assert redact(f"secret={SHARED}", secrets_of(settings)) == "secret=***"


# -- client keys (1.1): ca_file, insecure, contacts --------------------------------


def test_client_keys_load(tmp_path: Path) -> None:
    text = 'ca_file = "certs/ca.pem"\ninsecure = true\ncontacts = ["bob", "carol", "bob"]\n'
    settings = load_settings(write(tmp_path, text))
    assert settings.ca_file == tmp_path / "certs" / "ca.pem"
    assert settings.insecure is True
    assert settings.contacts == ("bob", "carol")
    assert Settings().contacts is None and Settings().insecure is False


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("insecure = 1", "insecure: expected true or false, got an integer"),
        ('ca_file = ""', "ca_file: must not be empty"),
        ("ca_file = 3", "ca_file: expected a string, got an integer"),
        ('contacts = "bob"', "contacts: expected an array of user names, got a string"),
        ('contacts = ["bob", 7]', "contacts[1]: expected a user name string, got an integer"),
        ('contacts = ["bob", "no spaces"]', "contacts[1]: invalid user name 'no spaces'"),
    ],
)
def test_client_keys_are_validated(tmp_path: Path, line: str, problem: str) -> None:
    assert problem in load_error(tmp_path, line + "\n")


def test_too_many_contacts(tmp_path: Path) -> None:
    names = ", ".join(f'"u{i}"' for i in range(1001))
    assert "at most 1000 contacts" in load_error(tmp_path, f"contacts = [{names}]\n")


def test_ca_file_and_insecure_from_the_command_line(tmp_path: Path) -> None:
    settings = with_overrides(Settings(), ca_file=Path("ca.pem"), insecure=True)
    assert settings.ca_file == Path.cwd() / "ca.pem"
    assert settings.insecure is True
    assert with_overrides(Settings(), insecure=None).insecure is False


@pytest.mark.parametrize(
    ("value", "hz"), [("none", None), ("tone", 425.0), ("tone:600", 600.0), ("tone:20", 20.0)]
)
def test_hold_sound(tmp_path: Path, value: str, hz: float | None) -> None:
    """(1.2) ``hold_sound``: nothing (the hold offers inactive) or a tone (sendonly)."""
    from softphone.hold_sound import tone_hz

    settings = load_settings(write(tmp_path, f'hold_sound = "{value}"\n'))
    assert settings.hold_sound == value
    assert tone_hz(settings.hold_sound) == hz
    assert tone_hz(Settings().hold_sound) is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('"music.wav"', 'expected "none", "tone" or "tone:HZ"'),
        ('"tone:loud"', "tone frequency must be 20-20000 Hz, got 'loud'"),
        ('"tone:5"', "tone frequency must be 20-20000 Hz"),
        ("true", "expected a string"),
    ],
)
def test_bad_hold_sound_is_named(tmp_path: Path, value: str, fragment: str) -> None:
    message = load_error(tmp_path, f"hold_sound = {value}\n")
    assert "hold_sound" in message and fragment in message, message


# -- call keys (1.2): max_calls, dnd, auto_answer, contacts with labels -------------------


def test_call_keys_load_and_default(tmp_path: Path) -> None:
    text = (
        "max_calls = 3\ndnd = true\nauto_answer = true\n"
        'contacts = ["bob", { name = "carol", label = "Carol (work)" }, { name = "dan" }]\n'
    )
    settings = load_settings(write(tmp_path, text))
    assert (settings.max_calls, settings.dnd, settings.auto_answer) == (3, True, True)
    assert settings.contacts == ("bob", "carol", "dan")
    assert settings.contact_labels == (("carol", "Carol (work)"),)
    defaults = Settings()
    assert (defaults.max_calls, defaults.dnd, defaults.auto_answer) == (2, False, False)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("max_calls = 0", "max_calls: must be between 1 and 16, got 0"),
        ("max_calls = 17", "max_calls: must be between 1 and 16, got 17"),
        ('max_calls = "2"', "max_calls: expected an integer, got a string"),
        ("max_calls = true", "max_calls: expected an integer, got a boolean"),
        ('dnd = "yes"', "dnd: expected true or false, got a string"),
        ("auto_answer = 1", "auto_answer: expected true or false, got an integer"),
        ("contacts = [{ label = 'x' }]", "contacts[0].name: expected a user name string"),
        ("contacts = [{ name = 'b', nick = 'x' }]", "contacts[0]: unknown key 'nick'"),
        ("contacts = [{ name = 'b', label = 3 }]", "contacts[0].label: expected a string"),
        ("contacts = [{ name = 'no spaces' }]", "contacts[0]: invalid user name 'no spaces'"),
        ("max_call = 2", "max_calls"),  # the "did you mean" hint
    ],
)
def test_call_keys_are_validated(tmp_path: Path, line: str, problem: str) -> None:
    assert problem in load_error(tmp_path, line + "\n")


def test_auto_answer_from_the_command_line() -> None:
    assert with_overrides(Settings(), auto_answer=True).auto_answer is True
    assert with_overrides(Settings(auto_answer=True), auto_answer=None).auto_answer is True
