"""Settings: every contract variable, defaults, and one-line errors that never show secrets."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from bot.config import (
    BOT_OPENID_METADATA_URL,
    MAX_MEDIA,
    Settings,
    SettingsError,
    declared,
    is_loopback,
    load_settings,
    parse_settings,
)
from tests.services import ROOT


def test_defaults_are_the_contracts() -> None:
    s = parse_settings({})
    assert (s.host, s.port) == ("127.0.0.1", 3978)
    assert s.local_mode and not s.uses_cosmos and not s.uses_graph
    assert s.data_dir == Path("./data")
    assert s.cosmos_database == "send" and s.cosmos_verify_tls
    assert s.graph_endpoint == "https://graph.microsoft.com/v1.0"
    assert s.aad_authority_host == "https://login.microsoftonline.com"
    assert s.public_base_url == "http://127.0.0.1:3978"
    assert s.allowed_tenants == frozenset()
    assert (s.max_message_chars, s.teams_sends_per_second, s.log_level) == (2000, 30, "INFO")
    assert s.messages_per_minute_per_sender == 30
    assert s.message_retention_days == 365
    assert not s.allow_local_mode_on_network and not s.local_mode_on_network
    assert s.bot_service_url_hosts == ("smba.trafficmanager.net",)
    assert s.bot_openid_metadata_url == BOT_OPENID_METADATA_URL
    assert BOT_OPENID_METADATA_URL.startswith("https://login.botframework.com/")
    assert s.azure_storage_connection_string == ""  # photos and files under DATA_DIR/media
    assert s.azure_storage_container == "send-media"
    assert s.max_media_bytes == 10485760 == 10 * 1024 * 1024


def test_every_variable_is_read() -> None:
    s = parse_settings(
        {
            "HOST": "0.0.0.0",
            "PORT": "8080",
            "MicrosoftAppId": "app",
            "MicrosoftAppPassword": "secret",
            "MicrosoftAppType": "SingleTenant",
            "MicrosoftAppTenantId": "tenant",
            "ALLOW_LOCAL_MODE_ON_NETWORK": "yes",
            "BOT_SERVICE_URL_HOSTS": " smba.trafficmanager.net, SMBA.Infra.Gcc.Teams.Microsoft.com.,",
            "BOT_OPENID_METADATA_URL": "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
            "DATA_DIR": "/var/send",
            "COSMOS_ENDPOINT": "https://db.example:443/",
            "COSMOS_KEY": "key",
            "COSMOS_DATABASE": "prod",
            "COSMOS_VERIFY_TLS": "false",
            "GRAPH_TENANT_ID": "gt",
            "GRAPH_CLIENT_ID": "gc",
            "GRAPH_CLIENT_SECRET": "gs",
            "GRAPH_ENDPOINT": "https://graph.example/v1.0/",
            "AAD_AUTHORITY_HOST": "https://login.example/",
            "OUTLOOK_SENDER": "send@contoso.com",
            "AM_ORIGINATOR": "orig",
            "AM_AUDIENCE": "https://send.example",
            "PUBLIC_BASE_URL": "https://send.example/",
            "ALLOWED_TENANTS": "t1, t2,,",
            "MAX_MESSAGE_CHARS": "500",
            "MESSAGES_PER_MINUTE_PER_SENDER": "100000",
            "MESSAGE_RETENTION_DAYS": "30",
            "TEAMS_SENDS_PER_SECOND": "40",
            "LOG_LEVEL": "debug",
            "AZURE_STORAGE_CONNECTION_STRING": " UseDevelopmentStorage=true ",
            "AZURE_STORAGE_CONTAINER": "team-photos-2",
            "MAX_MEDIA_BYTES": "1048576",
        }
    )
    assert s.port == 8080 and s.host == "0.0.0.0"
    assert not s.local_mode and s.uses_cosmos and s.uses_graph
    assert s.app_tenant_id == "tenant" and s.app_type == "SingleTenant"
    assert not s.cosmos_verify_tls and s.cosmos_database == "prod"
    assert s.graph_endpoint == "https://graph.example/v1.0"
    assert s.aad_authority_host == "https://login.example"
    assert s.public_base_url == "https://send.example"
    assert s.allowed_tenants == frozenset({"t1", "t2"})
    assert (s.max_message_chars, s.teams_sends_per_second, s.log_level) == (500, 40, "DEBUG")
    assert s.messages_per_minute_per_sender == 100000
    assert s.message_retention_days == 30
    assert s.allow_local_mode_on_network and not s.local_mode_on_network  # it has credentials
    assert s.bot_service_url_hosts == (
        "smba.trafficmanager.net",
        "smba.infra.gcc.teams.microsoft.com",
    )
    assert s.bot_openid_metadata_url.startswith("https://login.botframework.azure.us/")
    assert s.azure_storage_connection_string == "UseDevelopmentStorage=true"
    assert s.azure_storage_container == "team-photos-2"
    assert s.max_media_bytes == 1048576


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"PORT": "70000"}, "PORT must be between 1 and 65535"),
        (
            {"COSMOS_ENDPOINT": "https://db.example"},
            "COSMOS_ENDPOINT is set but COSMOS_KEY is empty",
        ),
        ({"COSMOS_KEY": "s3cret-key"}, "COSMOS_KEY is set but COSMOS_ENDPOINT is empty"),
        ({"COSMOS_ENDPOINT": "db.example", "COSMOS_KEY": "k"}, "COSMOS_ENDPOINT must be"),
        ({"COSMOS_VERIFY_TLS": "maybe"}, "COSMOS_VERIFY_TLS must be true or false"),
        ({"MicrosoftAppId": "app"}, "MicrosoftAppId is set but MicrosoftAppPassword is empty"),
        ({"MicrosoftAppPassword": "s3cret-key"}, "MicrosoftAppPassword is set but MicrosoftAppId"),
        ({"MicrosoftAppType": "Other"}, "MicrosoftAppType must be one of"),
        (
            {
                "MicrosoftAppId": "a",
                "MicrosoftAppPassword": "p",
                "MicrosoftAppType": "SingleTenant",
            },
            "MicrosoftAppTenantId is empty",
        ),
        ({"GRAPH_CLIENT_ID": "c"}, "GRAPH_TENANT_ID is empty"),
        (
            {"GRAPH_CLIENT_ID": "c", "GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_SECRET": "s3cret-key"},
            "GRAPH_CLIENT_ID is set but OUTLOOK_SENDER is empty",
        ),
        ({"AAD_AUTHORITY_HOST": "http://login.example"}, "AAD_AUTHORITY_HOST must be an https URL"),
        ({"MAX_MESSAGE_CHARS": "0"}, "MAX_MESSAGE_CHARS must be between"),
        ({"TEAMS_SENDS_PER_SECOND": "500"}, "TEAMS_SENDS_PER_SECOND must be between 1 and 50"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of"),
        ({"OUTLOOK_SENDER": "mailbox"}, "OUTLOOK_SENDER must be"),
        (
            {"MESSAGES_PER_MINUTE_PER_SENDER": "0"},
            "MESSAGES_PER_MINUTE_PER_SENDER must be at least 1",
        ),
        (
            {"MESSAGES_PER_MINUTE_PER_SENDER": "-5"},
            "MESSAGES_PER_MINUTE_PER_SENDER must be at least",
        ),
        (
            {"MESSAGES_PER_MINUTE_PER_SENDER": "lots"},
            "MESSAGES_PER_MINUTE_PER_SENDER must be a whole",
        ),
        ({"MESSAGE_RETENTION_DAYS": "0"}, "MESSAGE_RETENTION_DAYS must be at least 1, got 0"),
        ({"MESSAGE_RETENTION_DAYS": "a year"}, "MESSAGE_RETENTION_DAYS must be a whole number"),
        ({"MESSAGE_RETENTION_DAYS": "1.5"}, "MESSAGE_RETENTION_DAYS must be a whole number"),
        (
            {"ALLOW_LOCAL_MODE_ON_NETWORK": "maybe"},
            "ALLOW_LOCAL_MODE_ON_NETWORK must be true or false",
        ),
        (
            {"BOT_SERVICE_URL_HOSTS": "https://smba.trafficmanager.net/"},
            "BOT_SERVICE_URL_HOSTS must be",
        ),
        ({"BOT_SERVICE_URL_HOSTS": "smba.trafficmanager.net:443"}, "BOT_SERVICE_URL_HOSTS must be"),
        ({"BOT_SERVICE_URL_HOSTS": "a b"}, "no scheme, port or path"),
        (
            {"BOT_OPENID_METADATA_URL": "http://login.botframework.com/v1/x"},
            "BOT_OPENID_METADATA_URL must be an https URL",
        ),
        (
            {"HOST": "0.0.0.0"},
            "HOST is 0.0.0.0, not a loopback address, but MicrosoftAppId is empty",
        ),
        ({"HOST": "send.example"}, "ALLOW_LOCAL_MODE_ON_NETWORK=true"),
        ({"MAX_MEDIA_BYTES": "0"}, "MAX_MEDIA_BYTES must be between 1 and 157286400, got 0"),
        ({"MAX_MEDIA_BYTES": "157286401"}, "MAX_MEDIA_BYTES must be between 1 and 157286400"),
        ({"MAX_MEDIA_BYTES": "-1"}, "MAX_MEDIA_BYTES must be between"),
        ({"MAX_MEDIA_BYTES": "10 MB"}, "MAX_MEDIA_BYTES must be a whole number"),
        (
            {"AZURE_STORAGE_CONTAINER": "Send_Media"},
            "AZURE_STORAGE_CONTAINER must be 3 to 63 lower-case letters",
        ),
    ],
)
def test_bad_settings_name_the_variable_and_hide_secrets(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(env)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert "s3cret-key" not in text


def test_environment_wins_over_dotenv_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=4000\nLOG_LEVEL=DEBUG\n# a comment\nMAX_MESSAGE_CHARS=100\n")
    s = load_settings({"PORT": "5000"}, dotenv)
    assert s.port == 5000
    assert s.log_level == "DEBUG"
    assert s.max_message_chars == 100


def test_missing_dotenv_file_is_fine(tmp_path: Path) -> None:
    assert load_settings({}, tmp_path / "absent.env") == parse_settings({})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.4", False),
        ("send.example", False),
        ("", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_local_mode_on_a_network_address_needs_to_be_asked_for() -> None:
    allowed = parse_settings({"HOST": "0.0.0.0", "ALLOW_LOCAL_MODE_ON_NETWORK": "true"})
    assert allowed.local_mode and allowed.local_mode_on_network
    assert not parse_settings({"HOST": "::1"}).local_mode_on_network
    with_credentials = parse_settings(
        {"HOST": "0.0.0.0", "MicrosoftAppId": "app", "MicrosoftAppPassword": "p"}
    )
    assert not with_credentials.local_mode and not with_credentials.local_mode_on_network
    with pytest.raises(SettingsError):
        parse_settings({"HOST": "0.0.0.0", "ALLOW_LOCAL_MODE_ON_NETWORK": "false"})


@pytest.mark.parametrize(
    "container",
    ["send-media", "abc", "a1b", "0media", "media-0", "a-b-c", "x" * 63],
)
def test_a_container_name_within_azures_rule_is_taken(container: str) -> None:
    assert parse_settings({"AZURE_STORAGE_CONTAINER": container}).azure_storage_container == (
        container
    )


@pytest.mark.parametrize(
    "container",
    [
        "Send_Media",
        "Send-Media",
        "send_media",
        "ab",
        "a",
        "x" * 64,
        "-media",
        "media-",
        "send--media",
        "send.media",
        "send media",
        "médias",
    ],
)
def test_a_container_name_outside_azures_rule_is_refused_in_one_line(container: str) -> None:
    """Refused even without a connection string: a name that only Blob Storage would refuse
    must not wait for the day someone configures it."""
    for env in (
        {"AZURE_STORAGE_CONTAINER": container},
        {
            "AZURE_STORAGE_CONTAINER": container,
            "AZURE_STORAGE_CONNECTION_STRING": "AccountKey=s3cret-key",
        },
    ):
        with pytest.raises(SettingsError) as caught:
            parse_settings(env)
        text = str(caught.value)
        assert text.startswith("AZURE_STORAGE_CONTAINER must be")
        assert "\n" not in text and "s3cret-key" not in text


def test_an_empty_container_name_is_the_default() -> None:
    assert parse_settings({"AZURE_STORAGE_CONTAINER": "  "}).azure_storage_container == (
        "send-media"
    )


@pytest.mark.parametrize(("raw", "limit"), [("1", 1), (" 10485760 ", 10485760), ("", 10485760)])
def test_max_media_bytes_is_a_whole_number_of_bytes(raw: str, limit: int) -> None:
    assert parse_settings({"MAX_MEDIA_BYTES": raw}).max_media_bytes == limit


def test_max_media_bytes_goes_up_to_150_megabytes() -> None:
    assert MAX_MEDIA == 150 * 1024 * 1024
    assert parse_settings({"MAX_MEDIA_BYTES": str(MAX_MEDIA)}).max_media_bytes == MAX_MEDIA
    with pytest.raises(SettingsError, match=r"^MAX_MEDIA_BYTES must be between 1 and 157286400"):
        parse_settings({"MAX_MEDIA_BYTES": str(MAX_MEDIA + 1)})
    with pytest.raises(SettingsError, match=r"^MAX_MEDIA_BYTES must be between 1 and 157286400"):
        parse_settings({"MAX_MEDIA_BYTES": "0"})


def test_the_storage_connection_string_comes_from_dotenv_and_is_never_in_an_error(
    tmp_path: Path,
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("AZURE_STORAGE_CONNECTION_STRING=AccountName=a;AccountKey=s3cret-key\n")
    assert load_settings({}, dotenv).azure_storage_connection_string == (
        "AccountName=a;AccountKey=s3cret-key"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings({"PORT": "x"}, dotenv)
    assert "s3cret-key" not in str(caught.value)


class Recording(dict[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.append(key)
        return default


def test_every_variable_the_parser_reads_is_documented_with_its_default() -> None:
    """docs/configuration.md's table lists exactly the variables Send reads, each with the
    default its declaration has and, for a number, the bounds the parser checks."""
    environment = Recording()
    parse_settings(environment)
    read = set(environment.asked)
    table = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {
        name: (default.strip(), meaning)
        for name, default, meaning in re.findall(
            r"^\| `([A-Za-z_]+)` \| ([^|]*) \| (.*) \|$", table, re.MULTILINE
        )
    }
    declarations = {declared(f).name: (f, declared(f)) for f in fields(Settings)}
    assert set(rows) == read == set(declarations), sorted(read ^ set(rows))
    for name, (f, declaration) in declarations.items():
        default, meaning = rows[name]
        value = f.default
        if declaration.shown:
            expected = declaration.shown
        elif value in ("", frozenset()):
            expected = "empty"
        elif isinstance(value, bool):
            expected = f"`{str(value).lower()}`"
        elif isinstance(value, tuple):
            expected = f"`{','.join(value)}`"
        else:
            expected = f"`{value}`"
        assert default.startswith(expected), (name, default, expected)
        if declaration.high is not None:
            assert f"{declaration.low} to {declaration.high}" in meaning, (name, meaning)
        elif declaration.low is not None:
            assert f"at least {declaration.low}" in meaning, (name, meaning)


def test_a_secret_is_never_in_the_settings_repr() -> None:
    settings = parse_settings(
        {
            "MicrosoftAppId": "app",
            "MicrosoftAppPassword": "pass-word-1",
            "COSMOS_ENDPOINT": "https://db.example/",
            "COSMOS_KEY": "cosmos-key-2",
            "AZURE_STORAGE_CONNECTION_STRING": "AccountKey=blob-key-3",
        }
    )
    shown = repr(settings)
    secrets = [declared(f).name for f in fields(Settings) if declared(f).secret]
    assert "GRAPH_CLIENT_SECRET" in secrets and "COSMOS_KEY" in secrets
    for secret in ("pass-word-1", "cosmos-key-2", "blob-key-3"):
        assert secret not in shown
    assert "app_password='<set>'" in shown and "graph_client_secret=''" in shown
    assert "cosmos_endpoint='https://db.example/'" in shown
