"""The Teams side of Send: each activity is read once, handed to the core, and answered.

The bot decides nothing: `Conversation` (the core) does. What stays here is
Bot Framework itself: the turn, and rendering answers (the step-by-step `new`'s
buttons with `dialogs/`).
"""

from __future__ import annotations

import logging
from typing import assert_never

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, Attachment, ChannelAccount

from bot.core.texts import Language
from bot.core.turn.conversation import Conversation
from bot.core.turn.requests import (
    Answer,
    GroupPicker,
    MeetingPicker,
    MessageChange,
    SendAsMessage,
    YesNo,
)
from bot.teams.activity import plain_message, read_request, reply_text
from bot.teams.cards import (
    CARD_CONTENT_TYPE,
    answered_card,
    group_picker_card,
    meeting_picker_card,
    send_as_message_card,
)
from bot.teams.connector import ConnectorError
from dialogs.new_group import yes_no_question

log = logging.getLogger("send.teams")
READ_RECEIPT = "application/vnd.microsoft.readReceipt"


def _kinds(reactions: object) -> list[str]:
    """The reaction types Teams names (`[{"type": "like"}]`), at most a few, short."""
    if not isinstance(reactions, list):
        return []
    kinds = [getattr(r, "type", None) for r in reactions[:10]]
    return [k[:40] for k in kinds if isinstance(k, str) and k]


class SendBot(ActivityHandler):  # type: ignore[misc]
    def __init__(self, conversation: Conversation) -> None:
        super().__init__()
        self._core = conversation

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """Send handles no invoke (no sign-in, no Action.Execute cards, no task modules):
        each is answered 400 with a reason, never dispatched by botbuilder, whose handlers
        answer 501 or fail on what Send does not implement."""
        name = str(turn_context.activity.name or "unnamed")[:100]
        return InvokeResponse(status=400, body={"error": f"Send does not handle {name} invokes"})

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        activity = turn_context.activity
        if any(m.id == activity.recipient.id for m in members_added):
            answer = await self._core.installed(read_request(activity), welcome=True)
            await self._render(turn_context, answer)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._core.installed(read_request(turn_context.activity), welcome=False)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        answer = await self._core.handle(read_request(turn_context.activity))
        await self._render(turn_context, answer)

    async def on_message_update_activity(self, turn_context: TurnContext) -> None:
        """`editMessage` and `undeleteMessage`: a person changed a message they sent."""
        await self._changed(turn_context)

    async def on_message_delete_activity(self, turn_context: TurnContext) -> None:
        """`softDeleteMessage`: a person deleted a message they sent."""
        await self._changed(turn_context)

    async def on_message_reaction_activity(self, turn_context: TurnContext) -> None:
        """A reaction added to (or taken off) a copy Send sent: `replyToId` is that copy."""
        activity = turn_context.activity
        added = tuple(_kinds(activity.reactions_added))
        removed = tuple(_kinds(activity.reactions_removed))
        if activity.reply_to_id and (added or removed):
            await self._core.reacted(read_request(activity), activity.reply_to_id, added, removed)

    async def on_event_activity(self, turn_context: TurnContext) -> None:
        """Read receipts in a 1:1 chat (manifest RSC `ChatMessageReadReceipt.Read.Chat`);
        other events are not used."""
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        last_read = value.get("lastReadMessageId")
        if activity.name == READ_RECEIPT and isinstance(last_read, str) and last_read:
            await self._core.read(read_request(activity), last_read)
        else:
            log.debug("event not used", extra={"event": str(activity.name)[:80]})

    async def _changed(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        try:
            change = MessageChange(str(data.get("eventType", "")))
        except ValueError:
            log.debug("message event not used", extra={"event": str(data.get("eventType"))[:40]})
            return
        await self._render(turn_context, await self._core.changed(read_request(activity), change))

    async def _render(self, turn_context: TurnContext, answer: Answer) -> None:
        if answer.answered is not None:
            card = answered_card(answer.answered.message, answer.answered.reply)
            try:
                await turn_context.update_activity(
                    Activity(
                        id=answer.answered.card_id,
                        type="message",
                        attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)],
                    )
                )
            except ConnectorError as error:
                # The answer went out; only its echo on the card is missing.
                log.warning("answered card not updated", extra={"status": error.status})
        language = answer.person.language if answer.person is not None else Language.EN
        match answer.buttons:
            case None:
                if answer.text:
                    await reply_text(turn_context, answer.text)
                return
            case YesNo():
                channel = turn_context.activity.channel_id or ""
                await turn_context.send_activity(
                    yes_no_question(answer.text, channel_id=channel, language=language)
                )
                return
            case SendAsMessage(group, typed):
                card = send_as_message_card(group, typed, language=language)
            case GroupPicker(choices, typed, media, seal):
                card = group_picker_card(choices, typed, media, seal, language=language)
            case MeetingPicker(meetings):
                card = meeting_picker_card(meetings)
            case unknown:
                assert_never(unknown)
        # The line may quote what was typed: plain text, shown as typed.
        line = plain_message(answer.text)
        line.attachments = [Attachment(content_type=CARD_CONTENT_TYPE, content=card)]
        await turn_context.send_activity(line)
