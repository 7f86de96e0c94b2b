"""A message typed in Teams, held before it is relayed: its text, photos and files, the
names it shows, and posting it to a group (its media stored first, all or none)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.core.features.media import Media
from bot.core.membership.addresses import Mention
from bot.core.model import Group, Mentioned, Person, Quote, StoredMedia, Styled
from bot.core.sending.relay import Relay
from bot.core.turn.commands import Chat, Command, Verb, parse
from bot.core.turn.requests import IncomingMedia, TeamsRequest


@dataclass(frozen=True)
class Held:
    """What a message is made of before it is relayed: its text and the photos and files
    attached in Teams (downloaded from `service_url`'s connector)."""

    text: str
    media: tuple[IncomingMedia, ...] = ()
    service_url: str = ""
    # The people @mentioned in `text`, which names them.
    mentions: tuple[Mentioned, ...] = ()
    # The message it answers (from that message's card, or quoted with Teams' Reply).
    quote: Quote | None = None
    # Its text with the formatting typed in Teams; () when it has none.
    styled: tuple[Styled, ...] = ()


def named(mentions: tuple[Mention, ...], text: str) -> tuple[Mentioned, ...]:
    """The registered people @mentioned whose name the relayed text shows."""
    return tuple(
        Mentioned(m.person_id, m.display_name)
        for m in mentions
        if m.person_id and m.display_name and m.display_name in text
    )


def with_names(parsed: Command | Chat, request: TeamsRequest) -> Command | Chat:
    """What is relayed keeps each @mention as the name people saw ("thanks Megan for the
    slides"); commands read their members from the mentions themselves."""
    if not request.spoken:
        return parsed
    if isinstance(parsed, Chat):
        return Chat(request.spoken.strip())
    if parsed.verb is Verb.TO:
        spoken = parse(request.spoken)
        if isinstance(spoken, Command) and spoken.verb is Verb.TO:
            return replace(parsed, rest=spoken.rest)
    return parsed


class Posting:
    """Relays held messages from Teams, with their photos and files when there are any."""

    def __init__(self, relay: Relay, media: Media) -> None:
        self._relay = relay
        self.media = media

    async def post(
        self,
        person: Person,
        group: Group,
        message_id: str,
        held: Held,
        known: Mapping[str, Person] | None = None,
    ) -> None:
        """Relays a message to a group; its photos and files are stored first, and deleted
        again when the message is not taken (refused, or a re-send of one taken before).
        No echo: the sender already sees what they typed."""
        media = held.media
        if not media:
            await self._relay.from_teams(
                person,
                group,
                held.text,
                message_id,
                known=known,
                mentions=held.mentions,
                reply_to=held.quote,
                styled=held.styled,
            )
            return
        self._relay.check_text(held.text, with_media=True)
        self._relay.check_allowance(person)
        stored = await self.media.fetch(group, media, held.service_url, by=person.person_id)
        kept: tuple[StoredMedia, ...] = ()
        try:
            message = await self._relay.from_teams(
                person,
                group,
                held.text,
                message_id,
                known=known,
                media=stored,
                mentions=held.mentions,
                reply_to=held.quote,
                styled=held.styled,
            )
            kept = message.media if message is not None else ()
        finally:
            await self.media.discard([m for m in stored if m not in kept])
