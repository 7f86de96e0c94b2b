"""Administration from the command line, on the store the app uses (same settings).

    python -m bot.admin forget <address>
    python -m bot.admin export <group id or name> [--tenant T]

`forget` erases a person everywhere (with the photos and files of the groups it deletes);
`export` writes a group's history as JSON to standard output. The work is
bot/core/features/lifecycle.py's. Bad input prints one line on standard error and exits with
status 2; a store that cannot be reached, status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from bot.config import Settings, SettingsError, load_settings
from bot.core.features.lifecycle import export, forget
from bot.core.membership.addresses import is_address, normalize_address
from bot.core.ports import StoreError
from bot.media.open import open_media_store
from bot.media.ports import MediaStoreError
from bot.store.open import open_documents
from bot.store.repository import DocumentStore

PROGRAM = "send admin"


class BadInput(Exception):
    """What was asked for cannot be done; the message says why, in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROGRAM}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot.admin", description="Send administration.")
    commands = parser.add_subparsers(dest="command", required=True)
    erase = commands.add_parser("forget", help="erase a person everywhere")
    erase.add_argument("address", help="the person's e-mail address")
    history = commands.add_parser("export", help="write a group's history as JSON")
    history.add_argument("group", help="the group's id or name")
    history.add_argument("--tenant", default="", help="the group's tenant id")
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path = Path(".env"),
) -> int:
    """The command line's exit status; `environ` and `dotenv_path` default to the process's
    environment and the working folder's `.env` (tests pass their own)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed its one line
        return stop.code if isinstance(stop.code, int) else 2
    try:
        settings = load_settings(environ, dotenv_path)
    except SettingsError as error:
        print(f"send: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "forget":
            asyncio.run(_forget(settings, args.address))
        else:
            asyncio.run(_export(settings, args.group, args.tenant))
    except BadInput as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 2
    except (StoreError, MediaStoreError) as error:
        print(f"{PROGRAM}: store error: {error}", file=sys.stderr)
        return 1
    return 0


async def _forget(settings: Settings, address: str) -> None:
    if not is_address(normalize_address(address)):
        raise BadInput(f"not an e-mail address: {address!r}")
    documents = await open_documents(settings)
    try:
        # The media store the app uses: a group the person leaves empty loses its photos
        # and files with its messages.
        media = open_media_store(settings)
        await media.open()
        try:
            done = await forget(DocumentStore(documents), address, media)
        finally:
            await media.close()
    finally:
        await documents.close()
    if not done.people:
        raise BadInput(f"nobody with the address {normalize_address(address)} is stored")
    print(
        f"forgot {normalize_address(address)}: {done.people} person record(s) deleted, "
        f"{done.groups_left} group(s) left, {done.groups_deleted} group(s) deleted, "
        f"{done.messages_changed} message(s) anonymised"
    )


async def _export(settings: Settings, id_or_name: str, tenant_id: str) -> None:
    if not id_or_name.strip():
        raise BadInput("name the group: its id or its name")
    documents = await open_documents(settings)
    try:
        store = DocumentStore(documents)
        groups = await store.find_groups(id_or_name, tenant_id or None)
        where = f" in tenant {tenant_id}" if tenant_id else ""
        if not groups:
            raise BadInput(f"no group {id_or_name!r}{where}")
        if len(groups) > 1:
            ids = ", ".join(f"{g.group_id} (tenant {g.tenant_id})" for g in groups)
            raise BadInput(f"{len(groups)} groups match {id_or_name!r}{where}; give an id: {ids}")
        history = await export(store, groups[0])
    finally:
        await documents.close()
    json.dump(history, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
