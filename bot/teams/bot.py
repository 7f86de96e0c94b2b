"""The Teams side of Send: each activity is read once, handed to the core, and answered.

The bot decides nothing: `Conversation` (the core) does. What stays here is
Bot Framework itself: the turn, the `new` dialog's engine, and rendering answers.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from botbuilder.core import ActivityHandler, ConversationState, InvokeResponse, TurnContext
from botbuilder.dialogs import DialogSet
from botbuilder.schema import Activity, Attachment, ChannelAccount

from bot.core.membership.groups import Groups
from bot.core.model import Person
from bot.core.texts import Language
from bot.core.turn.conversation import Conversation
from bot.core.turn.requests import Answer, DialogStep
from bot.teams.activity import as_markdown, read_request, reply_text
from bot.teams.cards import (
    CARD_CONTENT_TYPE,
    answered_card,
    group_picker_card,
    send_as_message_card,
)
from bot.teams.connector import ConnectorError
from dialogs.new_group import NEW_GROUP_DIALOG, PERSON_KEY, new_group_dialog

log = logging.getLogger("send.teams")


class SendBot(ActivityHandler):  # type: ignore[misc]
    def __init__(
        self, conversation: Conversation, groups: Groups, conversation_state: ConversationState
    ) -> None:
        super().__init__()
        self._core = conversation
        self._state = conversation_state
        self._dialogs = DialogSet(conversation_state.create_property("DialogState"))
        for dialog in new_group_dialog(groups):
            self._dialogs.add(dialog)

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self._state.save_changes(turn_context)

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
        request = read_request(turn_context.activity)
        answer = await self._core.handle(request)
        if answer.dialog is DialogStep.CONTINUE and answer.person is not None:
            if await self._continue_dialog(turn_context, answer.person):
                return
            # Marked as in a dialog, but its state is gone: the text is read as new.
            answer = await self._core.handle(replace(request, dialog_lost=True))
        if answer.dialog is DialogStep.CANCEL:
            dialog_context = await self._dialogs.create_context(turn_context)
            await dialog_context.cancel_all_dialogs()
        if answer.dialog is DialogStep.START and answer.person is not None:
            turn_context.turn_state[PERSON_KEY] = answer.person
            dialog_context = await self._dialogs.create_context(turn_context)
            await dialog_context.begin_dialog(NEW_GROUP_DIALOG, {"name": answer.dialog_name})
            return
        await self._render(turn_context, answer)

    async def _continue_dialog(self, turn_context: TurnContext, person: Person) -> bool:
        """Hands the text to the person's dialog; False when its state is gone."""
        turn_context.turn_state[PERSON_KEY] = person
        dialog_context = await self._dialogs.create_context(turn_context)
        if dialog_context.active_dialog is None:
            return False
        await dialog_context.continue_dialog()
        if dialog_context.active_dialog is None:
            await self._core.dialog_ended(person)
        return True

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
        if answer.choices or answer.offered is not None:
            if answer.offered is not None:
                card = send_as_message_card(answer.offered, answer.pending_text, language=language)
            else:
                card = group_picker_card(
                    answer.choices,
                    answer.pending_text,
                    answer.pending_media,
                    answer.pending_seal,
                    language=language,
                )
            # The line may quote what was typed: markdown, escaped, so it shows as typed.
            await turn_context.send_activity(
                Activity(
                    type="message",
                    text=as_markdown(answer.text),
                    text_format="markdown",
                    attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)],
                )
            )
        elif answer.text:
            await reply_text(turn_context, answer.text)
