"""Choosing the media store backend from the settings."""

from __future__ import annotations

from bot.config import Settings
from bot.media.disk import DiskMediaStore
from bot.media.ports import MediaStore


def open_media_store(settings: Settings) -> MediaStore:
    """Azure Blob Storage when configured, else a folder under DATA_DIR (not opened yet)."""
    if settings.azure_storage_connection_string:
        # Imported here: the Azure Storage SDK takes a tenth of a second to load, which a
        # start on the local folder does not need.
        from bot.media.blob import BlobMediaStore

        return BlobMediaStore(
            settings.azure_storage_connection_string,
            settings.azure_storage_container,
            settings.max_media_bytes,
        )
    return DiskMediaStore(settings.data_dir / "media", settings.max_media_bytes)
