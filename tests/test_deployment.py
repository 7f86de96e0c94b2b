"""The Azure deployment matches the code: read as text (there is no az CLI or Docker here).

The Bicep file declares the Cosmos containers the store creates, the private blob container
of photos and files, every setting the code reads (as listed in docs/configuration.md), the
health probes, and the container the Dockerfile builds.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, declared, parse_settings
from bot.store.documents import PARTITION_KEYS

ROOT = Path(__file__).resolve().parent.parent
BICEP = (ROOT / "deployment" / "main.bicep").read_text()
DOCKERFILE = (ROOT / "deployment" / "Dockerfile").read_text()
PARAMETERS = json.loads((ROOT / "deployment" / "main.parameters.json").read_text())
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"

# Every setting bot/config.py reads, in the order of docs/configuration.md's table.
# Every setting in the order docs/configuration.md lists them: their declarations' order.
SETTINGS_IN_ORDER = [declared(f).name for f in fields(Settings)]
# The storage connection string carries the account key: a secret like COSMOS_KEY.
SECRETS = [declared(f).name for f in fields(Settings) if declared(f).secret]


_STRING = re.compile(r"'(?:\\.|[^'\\])*'")


def _without_strings(text: str) -> str:
    """Bicep text with each '...' literal emptied, so braces inside strings do not count."""
    return _STRING.sub("''", text)


def block(text: str, anchor: str) -> str:
    """The text between the first `{` or `[` after `anchor` and its matching bracket."""
    start = text.index(anchor) + len(anchor)
    opening = min(i for i in (text.find("{", start), text.find("[", start)) if i >= 0)
    depth, i = 0, opening
    while i < len(text):
        string = _STRING.match(text, i)
        if string:  # braces of '${...}' inside a string do not count
            i = string.end()
            continue
        if text[i] in "{[":
            depth += 1
        elif text[i] in "}]":
            depth -= 1
            if depth == 0:
                return text[opening + 1 : i]
        i += 1
    raise AssertionError(f"no closing bracket after {anchor!r}")


def top_level_keys(body: str) -> dict[str, str]:
    """`key: value` lines at the top level of an object body (values as written)."""
    keys: dict[str, str] = {}
    depth = 0
    for line in body.splitlines():
        match = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$", line)
        if depth == 0 and match:
            keys[match.group(1)] = match.group(2).strip()
        code = _without_strings(line)
        depth += code.count("{") + code.count("[") - code.count("}") - code.count("]")
    return keys


def app_settings() -> dict[str, str]:
    resource = block(BICEP, "resource webAppSettings 'Microsoft.Web/sites/config@")
    assert "name: 'appsettings'" in resource
    return top_level_keys(block(resource, "properties:"))


def bicep_params() -> dict[str, tuple[bool, bool]]:
    """Parameter name -> (has a default, is secure)."""
    params: dict[str, tuple[bool, bool]] = {}
    decorators: list[str] = []
    for line in BICEP.splitlines():
        if line.startswith("@"):
            decorators.append(line)
            continue
        match = re.match(r"^param (\w+) \w+( = .+)?$", line)
        if match:
            params[match.group(1)] = (match.group(2) is not None, "@secure()" in decorators)
            decorators = []
        if not line.startswith(("@", "  ", "]")):
            decorators = []
    return params


def dockerfile_instructions() -> list[tuple[str, str]]:
    logical = re.sub(r"\\\n", " ", DOCKERFILE)
    instructions = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def test_the_cosmos_containers_are_the_ones_the_store_creates() -> None:
    declared = block(BICEP, "var cosmosContainers =")
    pairs = re.findall(r"name:\s*'([^']+)'\s+partitionKey:\s*'([^']+)'", declared)
    assert dict(pairs) == {kind: f"/{field}" for kind, field in PARTITION_KEYS.items()}
    assert len(pairs) == len(PARTITION_KEYS)
    containers = block(BICEP, "resource containers 'Microsoft.DocumentDB/")
    assert "for container in cosmosContainers" in BICEP
    assert "container.partitionKey" in containers and "id: container.name" in containers


def test_cosmos_containers_let_documents_with_a_ttl_expire() -> None:
    """Messages (MESSAGE_RETENTION_DAYS) and de-duplication markers carry their own `ttl`;
    Cosmos DB honours it only in a container whose time to live is on (-1: no default)."""
    containers = block(BICEP, "resource containers 'Microsoft.DocumentDB/")
    assert top_level_keys(block(containers, "resource:"))["defaultTtl"] == "-1"


def test_the_database_is_the_one_the_settings_name() -> None:
    assert re.search(r"^var databaseName = '(\w+)'$", BICEP, re.M)
    database = re.findall(r"^var databaseName = '(\w+)'$", BICEP, re.M)
    assert database == [Settings().cosmos_database] == ["send"]
    assert app_settings()["COSMOS_DATABASE"] == "databaseName"


def test_cosmos_is_serverless_by_default_with_a_switch_to_provisioned() -> None:
    assert "param cosmosCapacityMode string = 'Serverless'" in BICEP
    assert "name: 'EnableServerless'" in BICEP
    assert "maxThroughput: cosmosMaxThroughput" in BICEP


class _ReadNames(Mapping[str, str]):
    """An empty environment that remembers every name looked up in it."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_the_code_reads() -> set[str]:
    env = _ReadNames()
    parse_settings(env)
    return env.names


def documented_settings() -> list[tuple[str, str]]:
    """(name, row) for each name in the first column of the table under `## Settings`."""
    text = CONFIGURATION_DOC.read_text()
    start = text.index("\n## Settings\n")
    end = text.find("\n## ", start + 1)
    rows = []
    for row in text[start : end if end >= 0 else len(text)].splitlines():
        cells = row.split("|")
        if row.startswith("|") and len(cells) > 2 and "`" in cells[1]:
            rows += [(name, row) for name in re.findall(r"`([^`]+)`", cells[1])]
    return rows


def test_the_list_of_settings_is_what_the_code_reads() -> None:
    assert settings_the_code_reads() == set(SETTINGS_IN_ORDER)
    assert len(SETTINGS_IN_ORDER) == len(set(SETTINGS_IN_ORDER))


def test_the_configuration_doc_lists_every_setting_in_order() -> None:
    documented = documented_settings()
    names = [name for name, _ in documented]
    assert [name for name in names if name in SETTINGS_IN_ORDER] == SETTINGS_IN_ORDER
    assert [name for name in names if name not in SETTINGS_IN_ORDER] == []
    for name, row in documented:
        assert "not used yet" not in row and "reserved" not in row, name


def test_every_setting_is_an_app_setting() -> None:
    settings = app_settings()
    missing = [name for name in SETTINGS_IN_ORDER if name not in settings]
    assert missing == []
    assert settings["HOST"] == "'0.0.0.0'"
    assert settings["ALLOW_LOCAL_MODE_ON_NETWORK"] == "'false'"


def test_the_teams_app_id_defaults_to_the_bots_app_id_like_the_code() -> None:
    """TEAMS_APP_ID is the manifest id manifest/build.py writes: by default MicrosoftAppId."""
    assert "param teamsAppId string = ''" in BICEP
    assert app_settings()["TEAMS_APP_ID"] == "teamsAppIdOrDefault"
    assert "var teamsAppIdOrDefault = empty(teamsAppId) ? microsoftAppId : teamsAppId" in BICEP
    assert "output teamsAppId string = teamsAppIdOrDefault" in BICEP
    env = {"MicrosoftAppId": "an-app", "MicrosoftAppPassword": "secret"}
    assert parse_settings(env).teams_app_id == "an-app"
    assert parse_settings({**env, "TEAMS_APP_ID": "a-teams-app"}).teams_app_id == "a-teams-app"


def test_secrets_are_key_vault_references() -> None:
    settings = app_settings()
    for name in SECRETS:
        assert "@Microsoft.KeyVault(SecretUri=" in settings[name], name
    vault_secrets = re.findall(
        r"'Microsoft.KeyVault/vaults/secrets@[^']+' = \{\s+parent: vault\s+name: '([^']+)'", BICEP
    )
    assert sorted(vault_secrets) == [
        "AZURE-STORAGE-CONNECTION-STRING",
        "COSMOS-KEY",
        "GRAPH-CLIENT-SECRET",
        "MicrosoftAppPassword",
    ]
    assert "enableRbacAuthorization: true" in BICEP
    # Key Vault Secrets User, granted to the web app's system identity.
    assert "var keyVaultSecretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'" in BICEP
    assert "principalId: webApp.identity.principalId" in block(BICEP, "resource secretsUser ")


def test_the_storage_account_is_private_and_https_only() -> None:
    account = block(BICEP, "resource storage 'Microsoft.Storage/storageAccounts@")
    assert "kind: 'StorageV2'" in account
    assert top_level_keys(block(account, "sku:"))["name"] == "'Standard_LRS'"
    properties = top_level_keys(block(account, "properties:"))
    assert properties["allowBlobPublicAccess"] == "false"
    assert properties["minimumTlsVersion"] == "'TLS1_2'"
    assert properties["supportsHttpsTrafficOnly"] == "true"
    assert properties["allowCrossTenantReplication"] == "false"
    # Storage account names: 3 to 24 lower-case letters and digits.
    name = top_level_keys(account)["name"]
    assert name.startswith("take('${replace(prefix, '-', '')}") and name.endswith(", 24)")


def test_the_media_container_is_the_settings_default_and_private() -> None:
    assert re.findall(r"^var mediaContainerName = '([^']+)'$", BICEP, re.M) == [
        Settings().azure_storage_container
    ]
    assert parse_settings({"AZURE_STORAGE_CONTAINER": "send-media"}).azure_storage_container
    container = block(
        BICEP, "resource mediaContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@"
    )
    assert "parent: blobService" in container and "name: mediaContainerName" in container
    assert top_level_keys(block(container, "properties:"))["publicAccess"] == "'None'"
    assert "parent: storage" in block(
        BICEP, "resource blobService 'Microsoft.Storage/storageAccounts/blobServices@"
    )


def test_a_deleted_groups_blobs_leave_no_soft_deleted_copy_or_version() -> None:
    service = block(BICEP, "resource blobService 'Microsoft.Storage/storageAccounts/blobServices@")
    properties = block(service, "properties:")
    assert top_level_keys(block(properties, "deleteRetentionPolicy:"))["enabled"] == "false"
    assert top_level_keys(block(properties, "containerDeleteRetentionPolicy:"))["enabled"] == (
        "false"
    )
    assert top_level_keys(properties)["isVersioningEnabled"] == "false"


def test_the_media_settings_point_at_the_storage_account() -> None:
    settings = app_settings()
    assert settings["AZURE_STORAGE_CONTAINER"] == "mediaContainer.name"
    assert settings["MAX_MEDIA_BYTES"] == "string(maxMediaBytes)"
    assert (
        "storageConnectionSecret.properties.secretUri"
        in (settings["AZURE_STORAGE_CONNECTION_STRING"])
    )
    secret = block(BICEP, "resource storageConnectionSecret 'Microsoft.KeyVault/vaults/secrets@")
    value = top_level_keys(block(secret, "properties:"))["value"]
    assert value.startswith("'DefaultEndpointsProtocol=https;AccountName=${storage.name};")
    assert "AccountKey=${storage.listKeys().keys[0].value}" in value
    assert "EndpointSuffix=${environment().suffixes.storage}" in value
    assert "param maxMediaBytes int = 10485760" in BICEP
    assert Settings().max_media_bytes == 10485760
    # The parameter's range is the one bot/config.py accepts.
    decorators = BICEP[: BICEP.index("param maxMediaBytes int")].splitlines()[-2:]
    assert decorators == ["@minValue(1)", "@maxValue(157286400)"]
    assert parse_settings({"MAX_MEDIA_BYTES": "157286400"}).max_media_bytes == 157286400
    with pytest.raises(SettingsError, match="MAX_MEDIA_BYTES"):
        parse_settings({"MAX_MEDIA_BYTES": "157286401"})


def test_the_web_app_probes_readiness_and_starts_app_py() -> None:
    assert re.findall(r"healthCheckPath:\s*'([^']+)'", BICEP) == ["/readyz"]
    assert re.findall(r"appCommandLine:\s*'([^']+)'", BICEP) == ["python app.py"]
    port = re.findall(r"^var containerPort = '(\d+)'$", BICEP, re.M)
    settings = app_settings()
    assert settings["PORT"] == settings["WEBSITES_PORT"] == "containerPort"
    assert port == [docker_env()["PORT"]]


def test_the_bot_resource_points_at_the_web_app_with_the_teams_channel() -> None:
    bot = block(BICEP, "resource bot 'Microsoft.BotService/botServices@")
    keys = top_level_keys(block(bot, "properties:"))
    assert "kind: 'azurebot'" in bot
    assert keys["msaAppId"] == "microsoftAppId"
    assert keys["msaAppType"] == "microsoftAppType"
    assert keys["endpoint"] == "'${publicBaseUrl}/api/messages'"
    assert "var publicBaseUrl = 'https://${publicHost}'" in BICEP
    channel = block(BICEP, "resource teamsChannel 'Microsoft.BotService/botServices/channels@")
    assert "name: 'MsTeamsChannel'" in channel and "parent: bot" in channel


def test_the_parameters_file_sets_every_required_parameter_and_no_unknown_one() -> None:
    params = bicep_params()
    given = set(PARAMETERS["parameters"])
    assert given <= set(params)
    required = {name for name, (default, secure) in params.items() if not default and not secure}
    assert required <= given
    assert not any(params[name][1] for name in given), "secrets go on the command line"


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions():
        if word == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def test_the_dockerfile_runs_app_py_on_the_port_it_exposes() -> None:
    instructions = dockerfile_instructions()
    values = {word: rest for word, rest in instructions}  # the last of each
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert json.loads(values["CMD"]) == ["python", "app.py"]
    env = docker_env()
    assert env["HOST"] == "0.0.0.0"
    assert values["EXPOSE"].split() == [env["PORT"]] == ["8000"]
    assert "/healthz" in values["HEALTHCHECK"] and "urllib" in values["HEALTHCHECK"]
    assert values["USER"] not in ("root", "0")
    assert ("RUN", "pip install -r requirements.txt") in instructions
    copied = [rest.split()[0] for word, rest in instructions if word == "COPY"]
    assert {"app.py", "bot/", "dialogs/", "manifest/"} <= set(copied)


def test_the_image_never_runs_in_local_mode_by_default() -> None:
    """It listens on 0.0.0.0: without Bot Framework credentials it must refuse to start."""
    env = docker_env()
    assert "ALLOW_LOCAL_MODE_ON_NETWORK" not in env and "MicrosoftAppId" not in env
    with pytest.raises(SettingsError, match=re.escape("HOST is 0.0.0.0, not a loopback address")):
        parse_settings(env)
