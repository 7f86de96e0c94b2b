"""The Teams app package: the manifest validates against schema 1.29, the icons are right,
and the builder takes its ids from the settings and refuses a bad app id in one line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image

from bot.config import parse_settings
from bot.core.turn.commands import Verb
from manifest import build

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "teams-manifest-1.29.schema.json").read_text())
APP_ID = "6f1c2b3a-9d8e-4f70-a1b2-c3d4e5f60718"
TEAMS_APP_ID = "0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
GRAPH_APP_ID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
SETTINGS = {"MicrosoftAppId": APP_ID, "PUBLIC_BASE_URL": "https://send.contoso.example/"}
# Settings the builder reads that a test run's environment must not bring in.
BUILD_SETTINGS = (
    "MicrosoftAppId",
    "PUBLIC_BASE_URL",
    "AM_AUDIENCE",
    "TEAMS_APP_ID",
    "GRAPH_CLIENT_ID",
)
PERSONAL_COMMANDS = ["help", "new", "groups", "use", "to", "members", "history", "mute", "outlook"]


def built(tmp_path: Path, **overrides: str) -> tuple[dict[str, Any], zipfile.ZipFile]:
    settings = build.package_settings({**SETTINGS, **overrides})
    path = build.build_package(settings, tmp_path / "dist" / "send-teams-app.zip")
    package = zipfile.ZipFile(path)
    return json.loads(package.read("manifest.json")), package


@pytest.fixture
def manifest(tmp_path: Path) -> dict[str, Any]:
    return built(tmp_path)[0]


def test_the_schema_refuses_a_broken_manifest(manifest: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate({**manifest, "id": "not-a-guid"})


def test_the_built_manifest_validates_against_schema_1_29(manifest: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(manifest)
    assert manifest["$schema"] == (
        "https://developer.microsoft.com/en-us/json-schemas/teams/v1.29/MicrosoftTeams.schema.json"
    )
    assert manifest["manifestVersion"] == "1.29"
    assert manifest["version"] == "1.0.0"


def test_the_zip_holds_the_manifest_and_both_icons_at_its_root(tmp_path: Path) -> None:
    manifest, package = built(tmp_path)
    assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    for name in ("color.png", "outline.png"):
        assert package.read(name) == (ROOT / "manifest" / name).read_bytes()
    assert package.testzip() is None


def test_ids_and_domains_come_from_the_settings(manifest: dict[str, Any]) -> None:
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["send.contoso.example"]
    assert manifest["webApplicationInfo"] == {
        "id": APP_ID,
        "resource": f"api://send.contoso.example/{APP_ID}",
    }
    assert manifest["developer"]["websiteUrl"] == "https://send.contoso.example"
    assert "{{" not in json.dumps(manifest)


def test_the_manifest_id_follows_teams_app_id_and_the_bot_keeps_its_own(tmp_path: Path) -> None:
    """TEAMS_APP_ID is the app's id in the catalog (its externalId): the manifest `id`."""
    manifest, _ = built(tmp_path, TEAMS_APP_ID=f"  {TEAMS_APP_ID} ")
    jsonschema.Draft4Validator(SCHEMA).validate(manifest)
    assert manifest["id"] == TEAMS_APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["webApplicationInfo"]["id"] == APP_ID


def test_web_application_info_names_the_bots_entra_app(manifest: dict[str, Any]) -> None:
    """Installing itself for others (TeamsAppInstallation.ReadWriteSelfForUser.All) needs
    `webApplicationInfo` with the Entra app that calls Graph: by default the bot's own."""
    info = manifest["webApplicationInfo"]
    assert info["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert info["resource"].startswith("api://")
    assert set(info) <= set(SCHEMA["properties"]["webApplicationInfo"]["properties"])


def test_a_separate_graph_app_registration_is_the_web_application_info_id(tmp_path: Path) -> None:
    manifest, _ = built(tmp_path, GRAPH_CLIENT_ID=GRAPH_APP_ID)
    jsonschema.Draft4Validator(SCHEMA).validate(manifest)
    assert manifest["webApplicationInfo"]["id"] == GRAPH_APP_ID
    assert manifest["bots"][0]["botId"] == manifest["id"] == APP_ID


@pytest.mark.parametrize("teams_app_id", ["", TEAMS_APP_ID])
def test_the_package_id_is_the_one_the_bot_looks_for_in_the_catalog(teams_app_id: str) -> None:
    """The builder and bot/config.py read TEAMS_APP_ID with the same default."""
    values = {**SETTINGS, "MicrosoftAppPassword": "secret", "TEAMS_APP_ID": teams_app_id}
    package = build.package_settings(values)
    assert package.teams_app_id == parse_settings(values).teams_app_id
    assert package.teams_app_id == (teams_app_id or APP_ID)


@pytest.mark.parametrize("name", ["TEAMS_APP_ID", "GRAPH_CLIENT_ID"])
def test_the_builder_refuses_an_id_that_is_not_a_guid(name: str) -> None:
    with pytest.raises(build.BuildError, match=f"^{name} must be a GUID"):
        build.package_settings({**SETTINGS, name: "send-app"})


def test_am_audience_and_developer_settings_override_the_defaults(tmp_path: Path) -> None:
    manifest, _ = built(
        tmp_path,
        AM_AUDIENCE="api://contoso.example/send-actions",
        TEAMS_DEVELOPER_NAME="Contoso IT",
        TEAMS_PRIVACY_URL="https://contoso.example/privacy",
    )
    assert manifest["webApplicationInfo"]["resource"] == "api://contoso.example/send-actions"
    assert manifest["developer"]["name"] == "Contoso IT"
    assert manifest["developer"]["privacyUrl"] == "https://contoso.example/privacy"
    jsonschema.Draft4Validator(SCHEMA).validate(manifest)


def test_the_bot_is_conversational_in_personal_and_group_chats(manifest: dict[str, Any]) -> None:
    [bot] = manifest["bots"]
    assert bot["scopes"] == ["personal", "groupChat"]
    assert bot["supportsFiles"] is True
    assert bot["isNotificationOnly"] is False
    assert manifest["permissions"] == ["identity", "messageTeamMembers"]
    assert manifest["name"]["short"] == "Send"


def test_the_bot_takes_photos_and_files_and_teams_may_load_them(manifest: dict[str, Any]) -> None:
    """Files in the personal chat come through Teams' file consent flow
    (`application/vnd.microsoft.teams.file.download.info`), which needs `supportsFiles`;
    pictures in cards load from `<PUBLIC_BASE_URL>/media/...`, so its host is a valid domain."""
    [bot] = manifest["bots"]
    assert bot["supportsFiles"] is True
    assert "personal" in bot["scopes"]
    assert "send.contoso.example" in manifest["validDomains"]
    assert len(manifest["description"]["full"]) <= 4000
    jsonschema.Draft4Validator(SCHEMA).validate(manifest)


def test_command_lists_name_real_commands_within_the_teams_limits(manifest: dict[str, Any]) -> None:
    lists = {
        tuple(entry["scopes"]): entry["commands"] for entry in manifest["bots"][0]["commandLists"]
    }
    assert [c["title"] for c in lists[("personal",)]] == PERSONAL_COMMANDS
    assert [c["title"] for c in lists[("groupChat",)]] == ["new"]
    for commands in lists.values():
        assert len(commands) <= 10
        for command in commands:
            assert Verb(command["title"])  # every title is a command the bot understands
            assert len(command["title"]) <= 32
            assert 0 < len(command["description"]) <= 128


def test_the_settings_come_from_dotenv_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"MicrosoftAppId={APP_ID}\nPUBLIC_BASE_URL=https://from-dotenv.example\n")
    values = build.read_settings({"PUBLIC_BASE_URL": "https://from-env.example"}, dotenv)
    settings = build.package_settings(values)
    assert (settings.app_id, settings.host) == (APP_ID, "from-env.example")


Pixel = tuple[int, int, int, int]


def icon(name: str, size: int) -> tuple[str, list[Pixel]]:
    """The PNG's mode and its pixels as RGBA, after checking its format and size."""
    with Image.open(ROOT / "manifest" / name) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        data = image.convert("RGBA").tobytes()
        mode = image.mode
    return mode, [(data[i], data[i + 1], data[i + 2], data[i + 3]) for i in range(0, len(data), 4)]


def test_the_color_icon_is_192_pixels_of_full_color() -> None:
    _, pixels = icon("color.png", 192)
    assert {a for *_, a in pixels} == {255}, "opaque"
    assert len({p[:3] for p in pixels}) > 2, "in color"


def test_the_outline_icon_is_32_pixels_of_white_on_transparent() -> None:
    mode, pixels = icon("outline.png", 32)
    assert mode == "RGBA"
    for r, g, b, a in pixels:
        assert a == 0 or (r, g, b) == (255, 255, 255), (r, g, b, a)
    alphas = [p[3] for p in pixels]
    assert alphas.count(0) > len(pixels) // 4, "the background is transparent"
    assert alphas.count(255) > 50, "the glyph is drawn"


@pytest.mark.parametrize(
    ("app_id", "named"),
    [("", "MicrosoftAppId is empty"), ("  ", "MicrosoftAppId is empty"), ("bot", "must be a GUID")],
)
def test_the_builder_refuses_an_empty_or_malformed_app_id_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    app_id: str,
    named: str,
) -> None:
    for name in BUILD_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MicrosoftAppId", app_id)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://send.contoso.example")
    output = tmp_path / "send-teams-app.zip"
    status = build.main(["--env-file", str(tmp_path / "missing.env"), "--output", str(output)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("send: cannot build the Teams app package:")
    assert named in err
    assert not output.exists()


@pytest.mark.parametrize("base", ["", "http://send.contoso.example", "send.contoso.example"])
def test_the_builder_needs_an_https_public_base_url(base: str) -> None:
    with pytest.raises(build.BuildError, match="PUBLIC_BASE_URL"):
        build.package_settings({"MicrosoftAppId": APP_ID, "PUBLIC_BASE_URL": base})


def test_an_unknown_template_placeholder_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "manifest.template.json"
    template.write_text('{"id": "{{NOT_A_SETTING}}"}')
    with pytest.raises(build.BuildError, match="NOT_A_SETTING"):
        build.render_manifest(build.package_settings(SETTINGS), template)


def test_python_dash_m_manifest_build_writes_dist_from_a_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"MicrosoftAppId={APP_ID}\nPUBLIC_BASE_URL=https://a.example\n")
    env = {k: v for k, v in os.environ.items() if k not in BUILD_SETTINGS}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "manifest.build"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    package = zipfile.ZipFile(io.BytesIO((tmp_path / "dist" / "send-teams-app.zip").read_bytes()))
    manifest = json.loads(package.read("manifest.json"))
    assert manifest["validDomains"] == ["a.example"]
    assert manifest["id"] == manifest["webApplicationInfo"]["id"] == APP_ID
    assert f"Teams app {APP_ID}" in result.stdout
