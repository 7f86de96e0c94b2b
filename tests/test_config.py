"""Settings: every contract variable, defaults, and one-line errors that never show secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings, parse_settings


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


def test_every_variable_is_read() -> None:
    s = parse_settings(
        {
            "HOST": "0.0.0.0",
            "PORT": "8080",
            "MicrosoftAppId": "app",
            "MicrosoftAppPassword": "secret",
            "MicrosoftAppType": "SingleTenant",
            "MicrosoftAppTenantId": "tenant",
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
            "TEAMS_SENDS_PER_SECOND": "40",
            "LOG_LEVEL": "debug",
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
    assert s.tenant_allowed("t1") and not s.tenant_allowed("t3")
    assert (s.max_message_chars, s.teams_sends_per_second, s.log_level) == (500, 40, "DEBUG")


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
