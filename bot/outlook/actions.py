"""A one-click reply from an Outlook card: who acted, to which group, and the refreshed card."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.errors import Refused
from bot.core.features.manage import Manage, manage
from bot.core.features.one_tap import one_tap
from bot.core.features.polls import Polls, poll_view
from bot.core.membership.groups import Groups
from bot.core.model import Group, Person, Source
from bot.core.ports import Clock, MailReaders, MessagingStore, PollMail
from bot.core.sending.relay import Relay
from bot.core.texts import text
from bot.outlook.action_auth import ActionTokenError, ActionTokenValidator, Actor
from bot.outlook.card import Card, ManageState, OutlookCards
from bot.outlook.tokens import CardTokenError, CardTokens
from bot.web.json_body import NotJson, parse_json

# Outlook puts the typed text into the body as is; a quote in it breaks the JSON, so the
# body is also read by its fixed shape: {"token": "...", "reply": "<anything>"}.
_BODY = re.compile(
    r'^\s*\{\s*"token"\s*:\s*"([A-Za-z0-9_\-.]+)"\s*,\s*"reply"\s*:\s*"(.*)"\s*\}\s*$', re.DOTALL
)


@dataclass(frozen=True)
class ActionOutcome:
    status: int
    reason: str
    card: dict[str, Any] | None = None


def parse_action_body(raw: bytes) -> tuple[str, str]:
    """The card token and the text to relay; raises ValueError (a `JsonBodyError` says
    why) for a body that is neither JSON of that shape nor Outlook's broken-JSON form of
    it, and `Refused` for a one-click answer Send does not offer. Read by `parse_json`, so
    a lone surrogate never gets through; the fixed-shape reading keeps the text as UTF-8
    decoded it (escapes unread), which cannot hold one either."""
    try:
        body = parse_json(raw)
    except NotJson:
        body = None
    if isinstance(body, dict) and isinstance(body.get("token"), str):
        if "answer" in body:
            # A one-click answer: a fixed text of the card's, never free text.
            return body["token"], one_tap(str(body["answer"]))
        return body["token"], str(body.get("reply", ""))
    match = _BODY.match(raw.decode("utf-8"))
    if match is None:
        raise ValueError("not an action body")
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class PollAction:
    token: str
    poll_id: str
    vote: int | None  # None: the card asks for the current tally (autoInvokeAction)


def parse_poll_action(raw: bytes) -> PollAction | None:
    """A poll card's body, `{"token", "poll", "vote": <n>}` or `{"token", "poll",
    "refresh": true}`; None for any other body (a reply or a ready answer)."""
    try:
        body = parse_json(raw)
    except NotJson:
        return None
    if not isinstance(body, dict) or "poll" not in body:
        return None
    token, poll_id, vote = body.get("token"), body.get("poll"), body.get("vote")
    shaped = isinstance(token, str) and isinstance(poll_id, str)
    if shaped and body.get("refresh") is True and vote is None:
        return PollAction(str(token), str(poll_id), None)
    if shaped and isinstance(vote, int) and not isinstance(vote, bool):
        return PollAction(str(token), str(poll_id), vote)
    raise ValueError("not a poll action")


def parse_manage_action(raw: bytes) -> tuple[str, Manage] | None:
    """A manage button's body, `{"token", "manage": "mute"}`; None for any other body."""
    try:
        body = parse_json(raw)
    except NotJson:
        return None
    if not isinstance(body, dict) or "manage" not in body:
        return None
    token, change = body.get("token"), body.get("manage")
    if not isinstance(token, str) or change not in {m.value for m in Manage}:
        raise ValueError("not a manage action")
    return token, Manage(str(change))


class OutlookActions:
    def __init__(
        self,
        validator: ActionTokenValidator,
        tokens: CardTokens,
        store: MessagingStore,
        relay: Relay,
        cards: OutlookCards,
        clock: Clock,
        polls: Polls,
        groups: Groups,
    ) -> None:
        self._groups = groups
        self._polls = polls
        self._validator = validator
        self._tokens = tokens
        self._store = store
        self._relay = relay
        self._cards = cards
        self._clock = clock

    async def handle(self, authorization: str, raw_body: bytes) -> ActionOutcome:
        try:
            actor = await self._validator.validate(authorization)
        except ActionTokenError as refusal:
            return ActionOutcome(refusal.status, refusal.reason)
        try:
            managed = parse_manage_action(raw_body)
            poll_action = None if managed is not None else parse_poll_action(raw_body)
            if managed is not None:
                card_token, reply = managed[0], ""
            elif poll_action is not None:
                card_token, reply = poll_action.token, ""
            else:
                card_token, reply = parse_action_body(raw_body)
        except (ValueError, UnicodeDecodeError):
            return ActionOutcome(400, "The action body is not one this service's cards send")
        except Refused as refusal:
            return ActionOutcome(400, str(refusal))
        now = self._clock.now()
        try:
            claim = self._tokens.verify(card_token, now)
        except CardTokenError as refusal:
            return ActionOutcome(403, str(refusal))
        if claim.tenant_id != actor.tenant_id:
            return ActionOutcome(403, "This card belongs to another organisation")
        group = await self._store.get_group(claim.tenant_id, claim.group_id)
        if group is None:
            return ActionOutcome(404, "This group no longer exists")
        person = await self._member(actor, group)
        if person is None:
            return ActionOutcome(403, f"You are not a member of {group.name}")
        # The same request sent again (Outlook retries) maps to the same message id.
        message_id = hashlib.sha256(authorization.encode() + b"\n" + raw_body).hexdigest()[:32]
        if managed is not None:
            return await self._manage(person, group, managed[1])
        if poll_action is not None:
            return await self._poll(person, group, poll_action, message_id)
        try:
            await self._relay.from_outlook(person, group, reply, message_id, reached=frozenset())
        except Refused as refusal:
            return ActionOutcome(400, str(refusal))
        refreshed = await self._store.get_group(group.tenant_id, group.group_id) or group
        card = self._card_for(person, refreshed, now)
        return ActionOutcome(200, f"Sent to {refreshed.name}", card)

    def _card_for(
        self, person: Person, group: Group, now: datetime, poll: PollMail | None = None
    ) -> Card:
        """The refreshed card, shown to the person who acted only: in their words and
        zone, with their own settings in its manage section."""
        return self._cards.card(
            group.tenant_id,
            group.group_id,
            group.name,
            group.recent[-5:],
            now,
            poll,
            readers=MailReaders(person.language, person.time_zone),
            members=[m.display_name for m in group.members],
            state=_state(person, group),
        )

    async def _manage(self, person: Person, group: Group, change: Manage) -> ActionOutcome:
        """A manage button: the change the Teams command makes, then the card again with
        the reader's new settings (or, once they left, only the answer)."""
        try:
            said = await manage(self._groups, person, group, change)
        except Refused as refusal:
            return ActionOutcome(400, refusal.say(person.language))
        if change is Manage.LEAVE:
            return ActionOutcome(200, said, self._cards.closed_card(group.name, said))
        refreshed = await self._store.get_group(group.tenant_id, group.group_id) or group
        current = await self._store.get_person(person.tenant_id, person.person_id) or person
        return ActionOutcome(200, said, self._card_for(current, refreshed, self._clock.now()))

    async def _poll(
        self, person: Person, group: Group, action: PollAction, message_id: str
    ) -> ActionOutcome:
        """An answer clicked on a poll's card, or the card asking for the current tally."""
        try:
            if action.vote is not None:
                poll = await self._polls.answer(
                    person, group, action.poll_id, action.vote, Source.OUTLOOK, message_id
                )
            else:
                found = await self._store.get_message(group.group_id, action.poll_id)
                if found is None or found.poll is None:
                    raise Refused(text("poll.gone"))
                poll = found
        except Refused as refusal:
            return ActionOutcome(400, str(refusal))
        assert poll.poll is not None
        refreshed = await self._store.get_group(group.tenant_id, group.group_id) or group
        view = PollMail(
            poll.message_id, poll.text, poll_view(poll.poll, refreshed, language=person.language)
        )
        card = self._card_for(person, refreshed, self._clock.now(), view)
        said = "Answer sent" if action.vote is not None else "Up to date"
        return ActionOutcome(200, f"{said}: {refreshed.name}", card)

    async def _member(self, actor: Actor, group: Group) -> Person | None:
        """The member who acted: the one with the token's object id, else the one whose
        address is the token's, unless Send knows that member by another object id (then
        the address is someone else's now, or claimed by a guest)."""
        members = await self._store.get_people(group.tenant_id, group.member_ids)
        if actor.object_id:
            for person in members:
                if person.aad_object_id == actor.object_id:
                    return person
        for person in members:
            if actor.address and actor.address.lower() in person.known_addresses:
                return None if person.aad_object_id else person
        return None


def _state(person: Person, group: Group) -> ManageState:
    member = group.member(person.person_id)
    return ManageState(muted=member is not None and member.muted, outlook_on=person.outlook_on)
