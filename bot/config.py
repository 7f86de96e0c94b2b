"""Settings: every variable of docs/configuration.md, parsed once and validated.

`load_settings` reads the process environment over an optional `.env` file and
returns a frozen `Settings`. Anything wrong raises `SettingsError` with one line
naming the variable; values of secrets never appear in the message.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Where the Bot Framework publishes the keys that sign its requests to bots (public cloud).
BOT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
# Teams' Bot Connector: https://smba.trafficmanager.net/<region>/ (emea, amer, apac, teams).
BOT_SERVICE_URL_HOSTS = ("smba.trafficmanager.net",)
# Azure's rule for container names: 3 to 63 lower-case letters, digits and single hyphens.
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
MAX_MEDIA = 150 * 1024 * 1024
_HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class SettingsError(Exception):
    """A configuration problem, explained in one line for the person starting the bot."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3978
    app_id: str = ""
    app_password: str = ""
    app_type: str = "MultiTenant"
    app_tenant_id: str = ""
    # Local mode on a non-loopback HOST is refused unless this says it is meant.
    allow_local_mode_on_network: bool = False
    # With credentials: the hosts (and their subdomains) an activity's serviceUrl may name.
    bot_service_url_hosts: tuple[str, ...] = BOT_SERVICE_URL_HOSTS
    bot_openid_metadata_url: str = BOT_OPENID_METADATA_URL
    data_dir: Path = Path("./data")
    cosmos_endpoint: str = ""
    cosmos_key: str = ""
    cosmos_database: str = "send"
    cosmos_verify_tls: bool = True
    # Messages older than this are deleted (daily, and by Cosmos DB's time to live).
    message_retention_days: int = 365
    graph_tenant_id: str = ""
    graph_client_id: str = ""
    graph_client_secret: str = ""
    graph_endpoint: str = "https://graph.microsoft.com/v1.0"
    aad_authority_host: str = "https://login.microsoftonline.com"
    outlook_sender: str = ""
    am_originator: str = ""
    am_audience: str = ""
    public_base_url: str = ""
    allowed_tenants: frozenset[str] = frozenset()
    max_message_chars: int = 2000
    messages_per_minute_per_sender: int = 30
    teams_sends_per_second: int = 30
    delivery_deadline_hours: int = 24
    log_level: str = "INFO"
    # The Teams app's id (manifest id, the catalog's externalId): installing Send for members
    # who never opened it. Empty = no installation.
    teams_app_id: str = ""
    # Set by the Azure deployment; exports the log to Application Insights when present.
    appinsights_connection_string: str = ""
    # Photos and files: Azure Blob Storage when set, else DATA_DIR/media.
    azure_storage_connection_string: str = ""
    azure_storage_container: str = "send-media"
    max_media_bytes: int = 10 * 1024 * 1024

    @property
    def local_mode(self) -> bool:
        """No Bot Framework credentials: inbound requests are not authenticated."""
        return not self.app_id

    @property
    def local_mode_on_network(self) -> bool:
        """Local mode listening beyond this machine: anyone who can reach it is trusted."""
        return self.local_mode and not is_loopback(self.host)

    @property
    def uses_cosmos(self) -> bool:
        return bool(self.cosmos_endpoint)

    @property
    def uses_graph(self) -> bool:
        return bool(self.graph_client_id)

    @property
    def installs_teams_app(self) -> bool:
        """Send installs itself for members who never opened it (needs Graph)."""
        return self.uses_graph and bool(self.teams_app_id)


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = Path(".env")
) -> Settings:
    """Environment variables win over the `.env` file; both are optional."""
    values: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return parse_settings(values)


def parse_settings(env: Mapping[str, str]) -> Settings:
    def text(name: str, default: str = "") -> str:
        return env.get(name, default).strip() or default

    d = Settings()  # every default is the dataclass's own, written once
    host = text("HOST", d.host)
    port = _integer(env, "PORT", d.port, low=1, high=65535)
    app_type = text("MicrosoftAppType", d.app_type)
    settings = Settings(
        host=host,
        port=port,
        app_id=text("MicrosoftAppId"),
        app_password=env.get("MicrosoftAppPassword", ""),
        app_type=app_type,
        app_tenant_id=text("MicrosoftAppTenantId"),
        allow_local_mode_on_network=_boolean(
            env, "ALLOW_LOCAL_MODE_ON_NETWORK", d.allow_local_mode_on_network
        ),
        bot_service_url_hosts=_host_names(env, "BOT_SERVICE_URL_HOSTS", d.bot_service_url_hosts),
        bot_openid_metadata_url=text("BOT_OPENID_METADATA_URL", d.bot_openid_metadata_url),
        data_dir=Path(text("DATA_DIR", str(d.data_dir))),
        cosmos_endpoint=text("COSMOS_ENDPOINT"),
        cosmos_key=env.get("COSMOS_KEY", "").strip(),
        cosmos_database=text("COSMOS_DATABASE", d.cosmos_database),
        cosmos_verify_tls=_boolean(env, "COSMOS_VERIFY_TLS", d.cosmos_verify_tls),
        message_retention_days=_integer(
            env, "MESSAGE_RETENTION_DAYS", d.message_retention_days, low=1
        ),
        graph_tenant_id=text("GRAPH_TENANT_ID"),
        graph_client_id=text("GRAPH_CLIENT_ID"),
        graph_client_secret=env.get("GRAPH_CLIENT_SECRET", "").strip(),
        graph_endpoint=text("GRAPH_ENDPOINT", d.graph_endpoint).rstrip("/"),
        aad_authority_host=text("AAD_AUTHORITY_HOST", d.aad_authority_host).rstrip("/"),
        outlook_sender=text("OUTLOOK_SENDER"),
        am_originator=text("AM_ORIGINATOR"),
        am_audience=text("AM_AUDIENCE"),
        public_base_url=text("PUBLIC_BASE_URL", f"http://{host}:{port}").rstrip("/"),
        allowed_tenants=frozenset(
            t.strip() for t in env.get("ALLOWED_TENANTS", "").split(",") if t.strip()
        ),
        max_message_chars=_integer(
            env, "MAX_MESSAGE_CHARS", d.max_message_chars, low=1, high=28000
        ),
        messages_per_minute_per_sender=_integer(
            env, "MESSAGES_PER_MINUTE_PER_SENDER", d.messages_per_minute_per_sender, low=1
        ),
        teams_sends_per_second=_integer(
            env, "TEAMS_SENDS_PER_SECOND", d.teams_sends_per_second, low=1, high=50
        ),
        delivery_deadline_hours=_integer(
            env, "DELIVERY_DEADLINE_HOURS", d.delivery_deadline_hours, low=1, high=24 * 14
        ),
        log_level=text("LOG_LEVEL", d.log_level).upper(),
        # The manifest's id is MicrosoftAppId unless the package was built with another.
        teams_app_id=text("TEAMS_APP_ID") or text("MicrosoftAppId"),
        appinsights_connection_string=text("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        azure_storage_connection_string=text("AZURE_STORAGE_CONNECTION_STRING"),
        azure_storage_container=text("AZURE_STORAGE_CONTAINER", d.azure_storage_container),
        # Graph takes attachments up to 150 MB (upload sessions); Teams cards link the rest.
        max_media_bytes=_integer(env, "MAX_MEDIA_BYTES", d.max_media_bytes, low=1, high=MAX_MEDIA),
    )
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    if not _CONTAINER.match(s.azure_storage_container):
        raise SettingsError(
            "AZURE_STORAGE_CONTAINER must be 3 to 63 lower-case letters, digits and single "
            "hyphens (Azure's rule for container names)"
        )
    if s.app_type not in APP_TYPES:
        raise SettingsError(f"MicrosoftAppType must be one of {', '.join(APP_TYPES)}")
    if s.app_id and s.app_type != "UserAssignedMSI" and not s.app_password:
        raise SettingsError("MicrosoftAppId is set but MicrosoftAppPassword is empty")
    if s.app_password and not s.app_id:
        raise SettingsError("MicrosoftAppPassword is set but MicrosoftAppId is empty")
    if s.app_id and s.app_type in ("SingleTenant", "UserAssignedMSI") and not s.app_tenant_id:
        raise SettingsError(f"MicrosoftAppType is {s.app_type} but MicrosoftAppTenantId is empty")
    if s.local_mode_on_network and not s.allow_local_mode_on_network:
        raise SettingsError(
            f"HOST is {s.host}, not a loopback address, but MicrosoftAppId is empty (local mode "
            "does not authenticate requests): set the Bot Framework credentials, or "
            "ALLOW_LOCAL_MODE_ON_NETWORK=true if that is intended"
        )
    # The keys that decide which requests are from Teams: never fetched over plain http.
    _url("BOT_OPENID_METADATA_URL", s.bot_openid_metadata_url, https=True)
    if s.cosmos_endpoint:
        _url("COSMOS_ENDPOINT", s.cosmos_endpoint, https=False)
        if not s.cosmos_key:
            raise SettingsError("COSMOS_ENDPOINT is set but COSMOS_KEY is empty")
    elif s.cosmos_key:
        raise SettingsError("COSMOS_KEY is set but COSMOS_ENDPOINT is empty")
    graph = {
        "GRAPH_TENANT_ID": s.graph_tenant_id,
        "GRAPH_CLIENT_ID": s.graph_client_id,
        "GRAPH_CLIENT_SECRET": s.graph_client_secret,
    }
    if any(graph.values()):
        for name, value in graph.items():
            if not value:
                others = ", ".join(n for n, v in graph.items() if v)
                raise SettingsError(f"{others} set but {name} is empty")
        if not s.outlook_sender:
            raise SettingsError("GRAPH_CLIENT_ID is set but OUTLOOK_SENDER is empty")
    _url("GRAPH_ENDPOINT", s.graph_endpoint, https=False)
    # MSAL refuses authorities that are not https.
    _url("AAD_AUTHORITY_HOST", s.aad_authority_host, https=True)
    _url("PUBLIC_BASE_URL", s.public_base_url, https=False)
    if s.log_level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    if s.outlook_sender and "@" not in s.outlook_sender:
        raise SettingsError("OUTLOOK_SENDER must be the UPN (e-mail address) of a mailbox")


def _url(name: str, value: str, *, https: bool) -> None:
    parts = urlsplit(value)
    schemes = ("https",) if https else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        raise SettingsError(f"{name} must be an {' or '.join(schemes)} URL, got {value!r}")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost, or "0.0.0.0"-style wildcards


def _host_names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "")
    hosts = tuple(h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())
    for host in hosts:
        if not _HOST_NAME.match(host):
            raise SettingsError(
                f"{name} must be host names separated by commas (no scheme, port or path), "
                f"got {host!r}"
            )
    return hosts or default


def _integer(
    env: Mapping[str, str], name: str, default: int, *, low: int, high: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if high is None and value < low:
        raise SettingsError(f"{name} must be at least {low}, got {value}")
    if high is not None and not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def log_level_number(settings: Settings) -> int:
    return logging.getLevelNamesMapping()[settings.log_level]
