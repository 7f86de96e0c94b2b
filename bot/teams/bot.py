"""The Teams side of Send: turns Bot Framework activities into calls to the core."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from botbuilder.core import ActivityHandler, ConversationState, TurnContext
from botbuilder.dialogs import DialogSet
from botbuilder.schema import Activity, Attachment, ChannelAccount

from bot.core.addresses import Mention
from bot.core.chat import ChatHandler, Reply
from bot.core.commands import Command, Verb, parse
from bot.core.groups import Groups, check_name
from bot.core.model import MAX_MEMBERS, Person
from bot.core.people import People, TeamsUser, update_person
from bot.core.ports import Clock, Store, StoreError
from bot.core.relay import Refused
from bot.teams.activity import (
    command_text,
    is_personal,
    mention_of,
    mentions_bot,
    mentions_of,
    message_id_for,
    reply_text,
    sender_of,
    tenant_of,
)
from bot.teams.cards import (
    CARD_CONTENT_TYPE,
    PICK_ACTION,
    REPLY_ACTION,
    REPLY_INPUT,
    group_picker_card,
)
from bot.teams.connector import TeamsConnector
from dialogs.new_group import NEW_GROUP_DIALOG, PERSON_KEY, new_group_dialog

log = logging.getLogger("send.bot")

WELCOME = (
    "Hi, I am Send. Make a group with new <name>: <colleagues' e-mail addresses>, "
    "then type: every member gets your message in Teams and Outlook. Type help for all commands."
)
NOT_ALLOWED = "Send is not enabled for your organisation."
GROUP_CHAT_HELP = (
    "In a group chat I only make groups: @mention me with new <name> to make a Send group "
    "of this chat's members. Everything else happens in your 1:1 chat with me."
)
MARKER_KEY = "send.dedupe-marker"  # turn_state: the marker this turn took
# Teams re-sends an activity it got no answer to within 15 s; remember ids for a day.
DEDUPE_WINDOW = timedelta(days=1)


class SendBot(ActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        store: Store,
        people: People,
        groups: Groups,
        chat: ChatHandler,
        conversation_state: ConversationState,
        clock: Clock,
        allowed_tenants: frozenset[str],
        connector: TeamsConnector,
    ) -> None:
        super().__init__()
        self._connector = connector
        self._store = store
        self._people = people
        self._groups = groups
        self._chat = chat
        self._state = conversation_state
        self._clock = clock
        self._allowed = allowed_tenants
        self._dialogs = DialogSet(conversation_state.create_property("DialogState"))
        for dialog in new_group_dialog(groups):
            self._dialogs.add(dialog)

    async def on_turn(self, turn_context: TurnContext) -> None:
        try:
            await super().on_turn(turn_context)
            await self._state.save_changes(turn_context)
        except StoreError:
            # Not done, so Teams will send it again: that retry must not be taken for a
            # duplicate. Best effort; if the store is down this fails too (and is logged).
            key = turn_context.turn_state.get(MARKER_KEY)
            if key:
                try:
                    await self._store.forget(key)
                except StoreError:
                    log.warning("de-duplication marker not cleared")
            raise

    def _allowed_tenant(self, activity: Activity) -> bool:
        return not self._allowed or tenant_of(activity) in self._allowed

    # install and first contact

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        activity = turn_context.activity
        bot_added = any(m.id == activity.recipient.id for m in members_added)
        if not bot_added or not is_personal(activity) or not self._allowed_tenant(activity):
            return
        await self._person(turn_context)
        await reply_text(turn_context, WELCOME)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if is_personal(activity) and self._allowed_tenant(activity):
            await self._person(turn_context)

    async def _person(self, turn_context: TurnContext) -> Person:
        activity = turn_context.activity
        known = await self._store.person_for_teams_user(
            tenant_of(activity), activity.from_property.id
        )
        email = known.email if known else ""
        if not email and is_personal(activity):  # first contact, or an earlier lookup failed
            email = await self._email_of(turn_context, activity.from_property.id)
        return await self._people.register(sender_of(activity, email), known)

    async def _email_of(self, turn_context: TurnContext, user_id: str) -> str:
        activity = turn_context.activity
        member = await self._connector.get_member(
            activity.service_url, activity.conversation.id, user_id
        )
        if member is None:
            log.warning("member lookup found nobody")
            return ""
        return str(member.get("userPrincipalName") or member.get("email") or "")

    # messages

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not self._allowed_tenant(activity):
            await reply_text(turn_context, NOT_ALLOWED)
            return
        if not is_personal(activity):
            await self._group_chat(turn_context)
            return
        person = await self._person(turn_context)
        turn_context.turn_state[PERSON_KEY] = person
        message_id = message_id_for(activity)
        value = activity.value if isinstance(activity.value, dict) else None
        if value and value.get("sendAction") in (REPLY_ACTION, PICK_ACTION):
            await self._card_action(turn_context, person, value, message_id)
            return

        text = command_text(activity)
        # Dialog state is read only for people in a dialog (a flag on the person we read
        # anyway), so an ordinary message costs no extra store request.
        if person.in_dialog:
            dialog_context = await self._dialogs.create_context(turn_context)
            if dialog_context.active_dialog is not None:
                if text.strip().lower().lstrip("/") == "cancel":
                    await dialog_context.cancel_all_dialogs()
                    await self._set_in_dialog(person, False)
                    await reply_text(turn_context, "Cancelled; no group was created.")
                    return
                await dialog_context.continue_dialog()
                if dialog_context.active_dialog is None:
                    await self._set_in_dialog(person, False)
                return
            person = await self._set_in_dialog(person, False)

        parsed = parse(text)
        # Messages are de-duplicated by their message id; other commands by activity id.
        if isinstance(parsed, Command) and not await self._first_time(turn_context):
            return
        mentions = tuple(await self._mentioned(turn_context))
        reply = await self._chat.handle(person, parsed, mentions, message_id)
        if reply.start_new_group_dialog is not None:
            await self._set_in_dialog(person, True)
            dialog_context = await self._dialogs.create_context(turn_context)
            await dialog_context.begin_dialog(
                NEW_GROUP_DIALOG, {"name": reply.start_new_group_dialog}
            )
            return
        await self._send_reply(turn_context, reply)

    async def _set_in_dialog(self, person: Person, in_dialog: bool) -> Person:
        updated = await update_person(
            self._store,
            person.tenant_id,
            person.person_id,
            lambda p: p.with_changes(in_dialog=in_dialog),
        )
        return updated or person

    async def _card_action(
        self, turn_context: TurnContext, person: Person, value: dict[str, Any], message_id: str
    ) -> None:
        group_id = str(value.get("groupId", ""))
        if value.get("sendAction") == PICK_ACTION:
            text = str(value.get("text", ""))
            reply_to = turn_context.activity.reply_to_id
            if reply_to:
                # Every click on the picker of one message sends that one message.
                message_id = hashlib.sha256(f"pick|{reply_to}".encode()).hexdigest()[:32]
            reply = await self._chat.post_to(person, group_id, text, message_id)
            if not reply.text:
                try:
                    group = await self._groups.by_id(person, group_id)
                    await self._groups.set_active(person, group_id)
                    reply = Reply(f"Sent to {group.name}, now your active group.")
                except Refused as refusal:
                    reply = Reply(str(refusal))
        else:
            text = str(value.get(REPLY_INPUT, "") or "")
            reply = await self._chat.post_to(person, group_id, text, message_id)
        await self._send_reply(turn_context, reply)

    async def _send_reply(self, turn_context: TurnContext, reply: Reply) -> None:
        if reply.choices:
            card = group_picker_card(reply.choices, reply.pending_text)
            await turn_context.send_activity(
                Activity(
                    type="message",
                    text=reply.text,
                    attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)],
                )
            )
        elif reply.text:
            await reply_text(turn_context, reply.text)

    async def _first_time(self, turn_context: TurnContext) -> bool:
        activity = turn_context.activity
        if not activity.id:
            return True
        key = f"activity:{message_id_for(activity)}"
        first = await self._store.remember_once(key, self._clock.now(), DEDUPE_WINDOW)
        if first:
            turn_context.turn_state[MARKER_KEY] = key
        return first

    async def _mentioned(self, turn_context: TurnContext) -> list[Mention]:
        """@mentioned people, registered so they can be reached and named later."""
        activity = turn_context.activity
        mentions = []
        for user_id, name in mentions_of(activity):
            known = await self._store.person_for_teams_user(tenant_of(activity), user_id)
            # A 1:1 chat's roster holds only its owner: asking Teams about anyone else is a 404.
            lookup = not known and not is_personal(activity)
            email = (
                known.email
                if known
                else (await self._email_of(turn_context, user_id) if lookup else "")
            )
            user = TeamsUser(
                tenant_id=tenant_of(activity),
                user_id=user_id,
                display_name=name,
                service_url=activity.service_url or "",
                bot_id=activity.recipient.id,
                email=email,
            )
            await self._people.register(user)
            mentions.append(mention_of(user))
        return mentions

    # group chats: only "@Send new <name>"

    async def _group_chat(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not mentions_bot(activity):
            return
        parsed = parse(command_text(activity))
        if not isinstance(parsed, Command) or parsed.verb is not Verb.NEW or not parsed.target:
            await reply_text(turn_context, GROUP_CHAT_HELP)
            return
        if not await self._first_time(turn_context):
            return
        await reply_text(turn_context, await self._group_from_roster(turn_context, parsed))

    async def _group_from_roster(self, turn_context: TurnContext, parsed: Command) -> str:
        activity = turn_context.activity
        tenant = tenant_of(activity)
        roster: list[dict[str, Any]] = []
        token = ""
        while True:
            page, token = await self._connector.paged_members(
                activity.service_url, activity.conversation.id, token
            )
            roster.extend(page)
            if not token or len(roster) > MAX_MEMBERS:
                break
        if len(roster) > MAX_MEMBERS:
            return (
                f"This chat has more than {MAX_MEMBERS} people; a Send group has at most "
                f"{MAX_MEMBERS}. Nothing was created."
            )
        people: list[Person] = []
        for account in roster:
            user = TeamsUser(
                tenant_id=tenant,
                user_id=str(account.get("id", "")),
                display_name=str(account.get("name") or ""),
                service_url=activity.service_url or "",
                bot_id=activity.recipient.id,
                email=str(account.get("userPrincipalName") or account.get("email") or ""),
                aad_object_id=str(account.get("aadObjectId") or account.get("objectId") or ""),
            )
            people.append(await self._people.register(user))
        sender = next(
            (p for p in people if p.teams and p.teams.user_id == activity.from_property.id), None
        )
        if sender is None:
            sender = await self._people.register(sender_of(activity))
            people.insert(0, sender)
        others = [p for p in people if p.person_id != sender.person_id]
        try:
            name = check_name(parsed.target)
            created = await self._groups.create_with(sender, name, [sender, *others])
        except Refused as refusal:
            return str(refusal)
        return (
            f"Made the Send group {created.group.name} with the {len(others) + 1} people of this chat. "
            "Each of you gets its messages in a 1:1 chat with me and in Outlook."
        )
