"""Finding a message its group may still hold (`Group.unfiled`): a plain message is
filed on its own by its first round's write, within about a second of being accepted;
until then an edit, a delete or a card action finds it in its group. Changing the held
copy files it (`update_message` creates it); the round's write then merges into that."""

from __future__ import annotations

from bot.core.model import Group, Message
from bot.core.ports import MessageStore


async def message_in(store: MessageStore, group: Group, message_id: str) -> Message | None:
    """The message of that id in `group` (read just now), filed or still held by it."""
    stored = await store.get_message(group.group_id, message_id)
    if stored is not None:
        return stored
    return next((m for m in group.unfiled if m.message_id == message_id), None)
