"""`python -m bot.admin` as an operator runs it, on the SQLite store under DATA_DIR."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.admin import main
from bot.core.features.lifecycle import FORMER_MEMBER
from bot.media.disk import DiskMediaStore
from bot.store.documents import PARTITION_KEYS
from bot.store.repository import DocumentStore
from bot.store.sqlite_documents import SqliteDocuments
from tests.contracts.lifecycle_contract import BOB, CY, DEE, ZOE, ZOE_ELSEWHERE, post, said, team
from tests.contracts.media_contract import png_bytes
from tests.services import ROOT


@dataclass(frozen=True)
class Run:
    status: int
    stdout: str
    stderr: str


async def admin(tmp_path: Path, *args: str, **env: str) -> Run:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.admin",
        *args,
        # The temporary folder, so no .env of the working tree is read.
        cwd=tmp_path,
        env={**keep, "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "data"), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def admin_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str, **env: str
) -> Run:
    """`main` as `python -m bot.admin` calls it, with the same environment as `admin`, in
    a thread (it runs its own event loop) instead of a new Python process."""
    environ = {"DATA_DIR": str(tmp_path / "data"), **env}
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(args), environ, tmp_path / ".env")
    out, err = capsys.readouterr()
    return Run(status, out, err)


@asynccontextmanager
async def opened(tmp_path: Path) -> AsyncIterator[SqliteDocuments]:
    documents = SqliteDocuments(tmp_path / "data" / "send.sqlite3")
    await documents.open()
    try:
        yield documents
    finally:
        await documents.close()


async def seed(tmp_path: Path) -> None:
    """Friday Lunch in two tenants: Zoe, Bob and Cy in one, Dee and Zoe in the other; Zoe
    alone in Notes. A picture in Friday Lunch and one in Notes, under DATA_DIR/media."""
    media = DiskMediaStore(tmp_path / "data" / "media")
    await media.open()
    async with opened(tmp_path) as documents:
        store = DocumentStore(documents)
        for p in (ZOE, BOB, CY, ZOE_ELSEWHERE, DEE):
            await store.save_person(p)
        lunch = await store.save_group(team("g1", ZOE, BOB, CY, name="Friday Lunch"))
        chart = await media.put("t1", "g1", "chart.png", png_bytes(), by="ann")
        shown = replace(said(lunch, "m2", BOB, 2), media=(chart,))
        await post(store, lunch, shown, said(lunch, "m1", ZOE, 1))
        await store.save_group(team("g2", DEE, ZOE_ELSEWHERE, name="friday  lunch"))
        notes = await store.save_group(team("g3", ZOE, name="Notes"))
        scan = await media.put("t1", "g3", "scan.png", png_bytes(), by="ann")
        await post(store, notes, replace(said(notes, "n1", ZOE, 1), media=(scan,)))


def media_files(tmp_path: Path) -> list[str]:
    root = tmp_path / "data" / "media"
    return sorted(str(p.relative_to(root).parent) for p in root.rglob("*") if p.is_file())


async def test_forget_then_export(tmp_path: Path) -> None:
    await seed(tmp_path)
    assert media_files(tmp_path) == ["t1/g1", "t1/g3"]

    forgot = await admin(tmp_path, "forget", "zoe.quill@contoso.com")

    assert (forgot.status, forgot.stderr) == (0, "")
    assert forgot.stdout.startswith("forgot zoe.quill@contoso.com: 2 person record(s) deleted")
    assert "1 group(s) deleted" in forgot.stdout
    assert media_files(tmp_path) == ["t1/g1"]  # Notes went with its picture; Lunch stays
    async with opened(tmp_path) as documents:
        for kind in PARTITION_KEYS:
            for doc in await documents.query(kind, None, []):
                assert "zoe" not in json.dumps(doc.body).lower(), doc

    exported = await admin(tmp_path, "export", "Friday Lunch", "--tenant", "t1")

    assert (exported.status, exported.stderr) == (0, "")
    history = json.loads(exported.stdout)
    assert history["name"] == "Friday Lunch"
    assert [m["displayName"] for m in history["members"]] == ["Bob Stone", "Cy Ward"]
    assert [(m["senderName"], m["text"]) for m in history["messages"]] == [
        (FORMER_MEMBER, "words m1"),
        ("Bob Stone", "words m2"),
    ]
    assert {d["state"] for m in history["messages"] for d in m["deliveries"]} == {"sent"}
    assert [[i["name"] for i in m["media"]] for m in history["messages"]] == [[], ["chart.png"]]
    by_id = await admin(tmp_path, "export", "g2")
    assert by_id.status == 0 and json.loads(by_id.stdout)["tenantId"] == "t2"


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        ((), {}, "send admin: the following arguments are required: command"),
        (("forget",), {}, "send admin: the following arguments are required: address"),
        (("forget", "zoe"), {}, "send admin: not an e-mail address: 'zoe'"),
        (
            ("forget", "nobody@contoso.com"),
            {},
            "send admin: nobody with the address nobody@contoso.com is stored",
        ),
        (("export", "Dinner"), {}, "send admin: no group 'Dinner'"),
        (
            ("export", "Friday Lunch"),
            {},
            "send admin: 2 groups match 'Friday Lunch'; give an id: g1 (tenant t1), g2 (tenant t2)",
        ),
        (
            ("export", "Friday Lunch", "--tenant", "t9"),
            {},
            "send admin: no group 'Friday Lunch' in tenant t9",
        ),
        (
            ("export", "g1"),
            {"MESSAGE_RETENTION_DAYS": "0"},
            "send: configuration error: MESSAGE_RETENTION_DAYS must be at least 1, got 0",
        ),
    ],
)
async def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    env: dict[str, str],
    line: str,
) -> None:
    await seed(tmp_path)
    run = await admin_in_process(tmp_path, capsys, *args, **env)
    assert (run.status, run.stdout, run.stderr) == (2, "", line + "\n")


async def test_bad_input_from_the_shell_exits_with_status_2(tmp_path: Path) -> None:
    """The in-process checks above, as an operator's shell sees one of them."""
    await seed(tmp_path)
    run = await admin(tmp_path, "export", "Dinner")
    assert (run.status, run.stdout, run.stderr) == (2, "", "send admin: no group 'Dinner'\n")
