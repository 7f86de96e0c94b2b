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
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar, get_type_hints
from urllib.parse import urlsplit

from dotenv import dotenv_values

APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Where the Bot Framework publishes the keys that sign its requests to bots (public cloud).
BOT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
# Teams' Bot Connector: https://smba.trafficmanager.net/<region>/ (emea, amer, apac, teams).
BOT_SERVICE_URL_HOSTS = ("smba.trafficmanager.net",)
# Where Teams keeps the files people attach in a chat: OneDrive for work or school and
# SharePoint, in the public cloud and the national clouds.
FILE_DOWNLOAD_HOSTS = ("sharepoint.com", "sharepoint.us", "sharepoint.cn")
# Azure's rule for container names: 3 to 63 lower-case letters, digits and single hyphens.
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
MAX_MEDIA = 150 * 1024 * 1024
_HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


T = TypeVar("T")


class SettingsError(Exception):
    """A configuration problem, explained in one line for the person starting the bot."""


@dataclass(frozen=True)
class Var:
    """How a setting is read: its environment variable, and what it accepts. Numbers are
    checked against `low` and `high`; a secret's value never appears in a message or in
    `repr(settings)`; `clean` normalises the text; `shown` is the default as
    docs/configuration.md writes it when it is not the value itself."""

    name: str
    low: int | None = None
    high: int | None = None
    secret: bool = False
    clean: Callable[[str], str] | None = None
    shown: str = ""


def var(
    name: str,
    default: T,
    *,
    low: int | None = None,
    high: int | None = None,
    secret: bool = False,
    clean: Callable[[str], str] | None = None,
    shown: str = "",
) -> T:
    """A field of `Settings`, declared once: the parser and the docs check read this."""
    declared = Var(name, low, high, secret, clean, shown)
    return field(default=default, metadata={"var": declared})


def _no_trailing_slash(url: str) -> str:
    return url.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Every setting of docs/configuration.md, with its variable, default and bounds."""

    port: int = var("PORT", 3978, low=1, high=65535)
    host: str = var("HOST", "127.0.0.1")
    app_id: str = var("MicrosoftAppId", "")
    app_password: str = var("MicrosoftAppPassword", "", secret=True)
    app_type: str = var("MicrosoftAppType", "MultiTenant")
    app_tenant_id: str = var("MicrosoftAppTenantId", "")
    # Local mode on a non-loopback HOST is refused unless this says it is meant.
    allow_local_mode_on_network: bool = var("ALLOW_LOCAL_MODE_ON_NETWORK", False)
    # With credentials: the hosts (and their subdomains) an activity's serviceUrl may name.
    bot_service_url_hosts: tuple[str, ...] = var("BOT_SERVICE_URL_HOSTS", BOT_SERVICE_URL_HOSTS)
    bot_openid_metadata_url: str = var("BOT_OPENID_METADATA_URL", BOT_OPENID_METADATA_URL)
    data_dir: Path = var("DATA_DIR", Path("./data"), shown="`./data`")
    cosmos_endpoint: str = var("COSMOS_ENDPOINT", "")
    cosmos_key: str = var("COSMOS_KEY", "", secret=True)
    cosmos_database: str = var("COSMOS_DATABASE", "send")
    cosmos_verify_tls: bool = var("COSMOS_VERIFY_TLS", True)
    # Messages older than this are deleted (daily, and by Cosmos DB's time to live).
    message_retention_days: int = var("MESSAGE_RETENTION_DAYS", 365, low=1)
    graph_tenant_id: str = var("GRAPH_TENANT_ID", "")
    graph_client_id: str = var("GRAPH_CLIENT_ID", "")
    graph_client_secret: str = var("GRAPH_CLIENT_SECRET", "", secret=True)
    graph_endpoint: str = var(
        "GRAPH_ENDPOINT", "https://graph.microsoft.com/v1.0", clean=_no_trailing_slash
    )
    aad_authority_host: str = var(
        "AAD_AUTHORITY_HOST", "https://login.microsoftonline.com", clean=_no_trailing_slash
    )
    outlook_sender: str = var("OUTLOOK_SENDER", "")
    am_originator: str = var("AM_ORIGINATOR", "")
    am_audience: str = var("AM_AUDIENCE", "")
    # Parsed settings never leave it empty: http://<HOST>:<PORT> when unset.
    public_base_url: str = var(
        "PUBLIC_BASE_URL", "", clean=_no_trailing_slash, shown="`http://<HOST>:<PORT>`"
    )
    allowed_tenants: frozenset[str] = var("ALLOWED_TENANTS", frozenset(), shown="empty = any")
    max_message_chars: int = var("MAX_MESSAGE_CHARS", 2000, low=1, high=28000)
    messages_per_minute_per_sender: int = var("MESSAGES_PER_MINUTE_PER_SENDER", 30, low=1)
    max_groups_per_person: int = var("MAX_GROUPS_PER_PERSON", 100, low=1)
    # One automatic reminder, the day before a meeting, to those who have not answered.
    meeting_reminders: bool = var("MEETING_REMINDERS", True, shown="`on`")
    teams_sends_per_second: int = var("TEAMS_SENDS_PER_SECOND", 30, low=1, high=50)
    delivery_deadline_hours: int = var("DELIVERY_DEADLINE_HOURS", 24, low=1, high=24 * 14)
    log_level: str = var("LOG_LEVEL", "INFO", clean=str.upper)
    # Set by the Azure deployment; exports the log to Application Insights when present.
    # (Not a secret: Microsoft says so of its instrumentation key.)
    appinsights_connection_string: str = var("APPLICATIONINSIGHTS_CONNECTION_STRING", "")
    # The Teams app's id (manifest id, the catalog's externalId): installing Send for members
    # who never opened it. Empty = no installation. Parsed: MicrosoftAppId when unset.
    teams_app_id: str = var("TEAMS_APP_ID", "", shown="`MicrosoftAppId`")
    # Photos and files: Azure Blob Storage when set, else DATA_DIR/media.
    azure_storage_connection_string: str = var("AZURE_STORAGE_CONNECTION_STRING", "", secret=True)
    azure_storage_container: str = var("AZURE_STORAGE_CONTAINER", "send-media")
    # Graph takes attachments up to 150 MB (upload sessions); Teams cards link the rest.
    max_media_bytes: int = var("MAX_MEDIA_BYTES", 10 * 1024 * 1024, low=1, high=MAX_MEDIA)
    # The only hosts (and their subdomains) a file attachment is downloaded from.
    file_download_hosts: tuple[str, ...] = var("FILE_DOWNLOAD_HOSTS", FILE_DOWNLOAD_HOSTS)

    def __repr__(self) -> str:
        """Secrets shown as set or not, never their value (a logged Settings leaks nothing)."""
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if declared(f).secret:
                value = "<set>" if value else ""
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

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


def declared(f: Field[Any]) -> Var:
    """The declaration of a `Settings` field."""
    declaration = f.metadata["var"]
    assert isinstance(declaration, Var)
    return declaration


def parse_settings(env: Mapping[str, str]) -> Settings:
    """Each field from its variable, by its declaration; then the defaults that depend on
    other settings, then the rules between settings."""
    types = get_type_hints(Settings)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        declaration = declared(f)
        raw = env.get(declaration.name, "").strip()
        value = _read(types[f.name], declaration, raw) if raw else None
        if value is not None and value != ():  # "," names no host: the default
            values[f.name] = value
    settings = Settings(**values)
    settings = replace(
        settings,
        public_base_url=settings.public_base_url or f"http://{settings.host}:{settings.port}",
        # The manifest's id is MicrosoftAppId unless the package was built with another.
        teams_app_id=settings.teams_app_id or settings.app_id,
    )
    _check(settings)
    return settings


def _read(kind: Any, declaration: Var, raw: str) -> Any:
    name = declaration.name
    if kind is int:
        return _integer(name, raw, low=declaration.low or 0, high=declaration.high)
    if kind is bool:
        return _boolean(name, raw)
    if kind is Path:
        return Path(raw)
    if kind == tuple[str, ...]:
        return _host_names(name, raw)
    if kind == frozenset[str]:
        return frozenset(t.strip() for t in raw.split(",") if t.strip())
    if kind is str:
        return declaration.clean(raw) if declaration.clean else raw
    raise TypeError(f"no reader for {name}: {kind}")


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


def _host_names(name: str, raw: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())
    for host in hosts:
        if not _HOST_NAME.match(host):
            raise SettingsError(
                f"{name} must be host names separated by commas (no scheme, port or path), "
                f"got {host!r}"
            )
    return hosts


def _integer(name: str, raw: str, *, low: int, high: int | None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if high is None and value < low:
        raise SettingsError(f"{name} must be at least {low}, got {value}")
    if high is not None and not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _boolean(name: str, raw: str) -> bool:
    word = raw.lower()
    if word in ("true", "1", "yes", "on"):
        return True
    if word in ("false", "0", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {word!r}")


def log_level_number(settings: Settings) -> int:
    return logging.getLevelNamesMapping()[settings.log_level]
