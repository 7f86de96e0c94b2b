"""Choosing and opening the store backend from the settings."""

from __future__ import annotations

from bot.config import Settings
from bot.store.documents import Documents
from bot.store.sqlite_documents import SqliteDocuments


async def open_documents(settings: Settings) -> Documents:
    """Cosmos DB when COSMOS_ENDPOINT is set, else the embedded SQLite file under DATA_DIR."""
    if settings.uses_cosmos:
        # The Azure SDK is imported only when it is used (about 0.1 s of every start).
        from bot.store.cosmos_documents import MAX_TTL, CosmosDocuments

        cosmos = CosmosDocuments(
            settings.cosmos_endpoint,
            settings.cosmos_key,
            settings.cosmos_database,
            verify_tls=settings.cosmos_verify_tls,
            # Cosmos DB deletes a message this long after its last write; the daily purge
            # (bot/core/features/lifecycle.py) deletes it by the time it was sent.
            ttl_seconds={"messages": min(settings.message_retention_days * 86400, MAX_TTL)},
        )
        try:
            await cosmos.open()
        except BaseException:
            await cosmos.close()
            raise
        return cosmos
    sqlite = SqliteDocuments(settings.data_dir / "send.sqlite3")
    await sqlite.open()
    return sqlite
