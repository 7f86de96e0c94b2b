"""Builds the Teams app package: `python -m manifest.build` writes `dist/send-teams-app.zip`.

The package holds `manifest.json` (rendered from `manifest.template.json`), `color.png`
and `outline.png`. Settings come from the environment over an optional `.env` file,
like the bot's own settings:

- `MicrosoftAppId` (required): the bot's Entra app id, a GUID: the bot id.
- `TEAMS_APP_ID` (optional, a GUID): the manifest `id`, which the organisation's app
  catalog keeps as the app's `externalId`; default `MicrosoftAppId`. The bot reads the same
  setting, with the same default, to find itself in the catalog and install itself for
  members who never opened it (bot/config.py), so both must see the same value.
- `GRAPH_CLIENT_ID` (optional, a GUID): the `webApplicationInfo` id; default
  `MicrosoftAppId`. To install itself with Graph's
  `TeamsAppInstallation.ReadWriteSelfForUser.All`, the Teams app must name in
  `webApplicationInfo` the Entra app that holds that permission and calls Graph, which is
  `GRAPH_CLIENT_ID` (by default the bot's own app registration).
- `PUBLIC_BASE_URL` (required): the bot's public https base; its host goes into
  `validDomains`.
- `AM_AUDIENCE` (optional): the `webApplicationInfo` resource; default
  `api://<host>/<MicrosoftAppId>`.
- `TEAMS_DEVELOPER_NAME`, `TEAMS_WEBSITE_URL`, `TEAMS_PRIVACY_URL`, `TEAMS_TERMS_URL`
  (optional, only for the package): the developer block; default `Send` and `PUBLIC_BASE_URL`.

A missing or malformed setting stops the build with one line naming it, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "manifest.template.json"
ICONS = ("color.png", "outline.png")
DEFAULT_OUTPUT = Path("dist") / "send-teams-app.zip"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
# Zip entries get a fixed date so that the same inputs give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BuildError(Exception):
    """A setting the package cannot be built without, explained in one line."""


@dataclass(frozen=True)
class PackageSettings:
    app_id: str
    teams_app_id: str
    web_application_id: str
    public_base_url: str
    host: str
    resource: str
    developer_name: str
    website_url: str
    privacy_url: str
    terms_url: str

    def placeholders(self) -> dict[str, str]:
        return {
            "MicrosoftAppId": self.app_id,
            "TEAMS_APP_ID": self.teams_app_id,
            "WEB_APPLICATION_ID": self.web_application_id,
            "PUBLIC_BASE_URL": self.public_base_url,
            "PUBLIC_HOST": self.host,
            "WEB_APPLICATION_RESOURCE": self.resource,
            "DEVELOPER_NAME": self.developer_name,
            "DEVELOPER_WEBSITE_URL": self.website_url,
            "DEVELOPER_PRIVACY_URL": self.privacy_url,
            "DEVELOPER_TERMS_URL": self.terms_url,
        }


def read_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = Path(".env")
) -> dict[str, str]:
    """The environment wins over the `.env` file; both are optional."""
    values: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def package_settings(values: Mapping[str, str]) -> PackageSettings:
    def text(name: str) -> str:
        return values.get(name, "").strip()

    app_id = text("MicrosoftAppId")
    if not app_id:
        raise BuildError("MicrosoftAppId is empty; set it to the bot's Entra app id (a GUID)")
    if not _GUID.fullmatch(app_id):
        raise BuildError(f"MicrosoftAppId must be a GUID (the bot's Entra app id), got {app_id!r}")
    # Same default as bot/config.py: the id the bot looks for in the app catalog.
    teams_app_id = text("TEAMS_APP_ID") or app_id
    if not _GUID.fullmatch(teams_app_id):
        raise BuildError(
            f"TEAMS_APP_ID must be a GUID (the Teams app's id in the catalog), got {teams_app_id!r}"
        )
    web_application_id = text("GRAPH_CLIENT_ID") or app_id
    if not _GUID.fullmatch(web_application_id):
        raise BuildError(
            "GRAPH_CLIENT_ID must be a GUID (the Entra app that calls Microsoft Graph), "
            f"got {web_application_id!r}"
        )
    base = text("PUBLIC_BASE_URL").rstrip("/")
    if not base:
        raise BuildError("PUBLIC_BASE_URL is empty; set it to the bot's public https address")
    host = _https_host("PUBLIC_BASE_URL", base)
    for name in ("TEAMS_WEBSITE_URL", "TEAMS_PRIVACY_URL", "TEAMS_TERMS_URL"):
        if text(name):
            _https_host(name, text(name))
    developer = text("TEAMS_DEVELOPER_NAME") or "Send"
    if len(developer) > 32:
        raise BuildError("TEAMS_DEVELOPER_NAME must be at most 32 characters")
    return PackageSettings(
        app_id=app_id,
        teams_app_id=teams_app_id,
        web_application_id=web_application_id,
        public_base_url=base,
        host=host,
        resource=text("AM_AUDIENCE") or f"api://{host}/{app_id}",
        developer_name=developer,
        website_url=text("TEAMS_WEBSITE_URL") or base,
        privacy_url=text("TEAMS_PRIVACY_URL") or base,
        terms_url=text("TEAMS_TERMS_URL") or base,
    )


def _https_host(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise BuildError(f"{name} must be an https URL (Teams requires https), got {url!r}")
    return parts.hostname


def render_manifest(settings: PackageSettings, template: Path = TEMPLATE) -> dict[str, Any]:
    """The template with every `{{NAME}}` placeholder replaced."""
    values = settings.placeholders()

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return _PLACEHOLDER.sub(lambda m: _value(values, m.group(1)), node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(item) for key, item in node.items()}
        return node

    manifest: dict[str, Any] = fill(json.loads(template.read_text(encoding="utf-8")))
    return manifest


def _value(values: Mapping[str, str], name: str) -> str:
    try:
        return values[name]
    except KeyError:
        raise BuildError(
            f"the manifest template has an unknown placeholder {{{{{name}}}}}"
        ) from None


def build_package(
    settings: PackageSettings, output: Path = DEFAULT_OUTPUT, source: Path = HERE
) -> Path:
    """Writes the zip (manifest.json and the two icons at its root) and returns its path."""
    manifest = render_manifest(settings, source / TEMPLATE.name)
    output.parent.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[str, bytes]] = [
        ("manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()),
        *((name, (source / name).read_bytes()) for name in ICONS),
    ]
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            package.writestr(info, data)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m manifest.build", description="Build the Send Teams app package."
    )
    parser.add_argument(
        "--env-file", type=Path, default=Path(".env"), help="optional .env file (default: .env)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"zip to write (default: {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)
    try:
        settings = package_settings(read_settings(dotenv_path=args.env_file))
        path = build_package(settings, args.output)
    except BuildError as error:
        print(f"send: cannot build the Teams app package: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {path} (Teams app {settings.teams_app_id}, bot {settings.app_id}, "
        f"domain {settings.host})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
