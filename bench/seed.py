"""Fills an embedded store with many groups and messages, fast, for the memory benchmark.

Writes the same documents the app writes (through the repository's encoders), in one
SQLite transaction, instead of 110,000 separate durable writes.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.model import Group, Member, Message, Person, Source
from bot.store import bodies, sqlite_documents


def seed_store(
    data_dir: Path, tenant: str, groups: int, messages_per_group: int
) -> dict[str, float]:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(data_dir / "send.sqlite3")
    db.executescript(sqlite_documents._SCHEMA)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    pool = [f"user{n}@seed.example" for n in range(2_000)]
    rows: list[tuple[str, str, str, str, str]] = []

    def add(kind: str, partition: str, doc_id: str, body: dict[str, object]) -> None:
        text, etag = sqlite_documents._encode(kind, partition, doc_id, body)
        rows.append((kind, partition, doc_id, text, etag))

    for address in pool:
        person = Person(tenant, address, address.split("@")[0], email=address)
        add("directory", tenant, address, bodies.person_body(person))
    for g in range(groups):
        names = [pool[(g * 7 + k * 13) % len(pool)] for k in range(5)]
        members = tuple(Member(a, a.split("@")[0], start) for a in dict.fromkeys(names))
        messages = [
            Message(
                tenant,
                f"seed-{g}",
                f"seed-{g}-{m}",
                members[m % len(members)].person_id,
                "Seed",
                f"seeded message {m} of group {g}",
                start + timedelta(minutes=m),
                Source.TEAMS,
            )
            for m in range(messages_per_group)
        ]
        group = Group(
            tenant,
            f"seed-{g}",
            f"Seed group {g}",
            members[0].person_id,
            members,
            start,
            recent=tuple(m.summary() for m in messages[-10:]),
        )
        add("directory", tenant, group.group_id, bodies.group_body(group))
        for message in messages:
            add("messages", message.group_id, message.message_id, bodies.message_body(message))
    with db:
        db.executemany(
            "INSERT OR REPLACE INTO documents (kind, partition, id, body, etag) VALUES (?,?,?,?,?)",
            rows,
        )
    db.close()
    return {"groups": float(groups), "messages": float(groups * messages_per_group)}
