"""The Store's registry of live app instances, the same on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.repository import DocumentStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_live_instances_count_only_unexpired_announcements(store: DocumentStore) -> None:
    assert await store.live_instances(NOW) == 0
    await store.announce_instance("host:1", NOW + timedelta(seconds=30))
    await store.announce_instance("host:2", NOW + timedelta(seconds=5))
    await store.announce_instance("host:2", NOW + timedelta(seconds=30))  # renewed, not doubled
    assert await store.live_instances(NOW) == 2
    await store.announce_instance("host:3", NOW - timedelta(seconds=1))  # already expired
    assert await store.live_instances(NOW) == 2
    assert await store.live_instances(NOW + timedelta(seconds=31)) == 0


async def test_a_withdrawn_instance_is_not_counted(store: DocumentStore) -> None:
    await store.announce_instance("host:1", NOW + timedelta(seconds=30))
    await store.announce_instance("host:2", NOW + timedelta(seconds=30))
    await store.withdraw_instance("host:1")
    await store.withdraw_instance("host:9")  # never announced: nothing to do
    assert await store.live_instances(NOW) == 1
