"""Several Teams users talking to the real app, with the fake connector as Teams' side.

Activities have the shapes Teams sends (personal and group chats, mentions,
card submits); the bot's replies and relayed copies land in the fake connector.
`colleague` makes someone who is in the directory (the fake Graph) and in Teams with the
same Entra object id but has not installed Send; `connect_installs` makes an install
through Graph do what Teams does: the app is installed in the connector and the bot gets
the install events (installationUpdate, then conversationUpdate) on /api/messages.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import aiohttp

from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.fakes.graph import FakeGraph, GraphUser
from tests.waiting import DEFAULT_TIMEOUT

BOT_ID = "28:send-bot"
Json = dict[str, Any]


class TeamsWorld:
    def __init__(
        self, app_url: str, connector: FakeConnector, connector_url: str, tenant_id: str = ""
    ) -> None:
        self.app_url = app_url
        self.connector = connector
        self.service_url = connector_url + "/"
        self.tenant_id = tenant_id or connector.tenant_id
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        # (Teams user id, activity type, the bot's HTTP status) of each install event sent
        self.install_events: list[tuple[str, str, int]] = []
        # Teams user id -> (locale, clientInfo time zone) their Teams client says
        self._clients: dict[str, tuple[str, str]] = {}

    async def __aenter__(self) -> TeamsWorld:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def person(self, name: str, *, installed: bool = True) -> TeamsPerson:
        slug = re.sub(r"[^a-z]", "", name.lower())
        person = TeamsPerson(f"29:{slug}", name, f"{slug}@contoso.com", f"aad-{slug}")
        if installed:
            self.connector.add_person(person)
        else:
            self.connector.people[person.user_id] = person
        return person

    def colleague(
        self,
        name: str,
        graph: FakeGraph,
        *,
        licence: bool = True,
        blocked: bool = False,
        aliases: Iterable[str] = (),
    ) -> TeamsPerson:
        """Someone of the organisation who has not installed Send: a directory user (their
        UPN and mail are `email`; `aliases` are more SMTP addresses of theirs) whose object
        id is their Teams aadObjectId, known to Teams without a chat with the bot.
        `licence=False`: no Teams licence (Graph will not install apps for them, and Teams
        does not know them); `blocked`: an app permission policy blocks Send for them."""
        slug = re.sub(r"[^a-z]", "", name.lower())
        email = f"{slug}@contoso.com"
        user = graph.add_user(email, name, upn=email, aliases=aliases, teams_licence=licence)
        if blocked:
            graph.block_installs.add(user.id)
        person = TeamsPerson(f"29:{slug}", name, email, user.id)
        if licence:
            self.connector.people[person.user_id] = person
        return person

    def connect_installs(self, graph: FakeGraph) -> None:
        """An app installed through `graph` is installed in Teams for that person, and
        the bot gets the events Teams sends then."""
        graph.bot_app_id = self.connector.bot_app_id
        graph.on_install = self._installed

    async def _installed(self, user: GraphUser) -> None:
        wanted = user.id.lower()
        person = next(
            (p for p in self.connector.people.values() if p.aad_object_id.lower() == wanted),
            None,
        )
        if person is None:
            raise LookupError(f"no Teams user has the object id {user.id}")
        chat = self.connector.install(person.user_id)
        conversation = {"id": chat, "conversationType": "personal", "tenantId": self.tenant_id}
        sender = {"id": person.user_id, "aadObjectId": person.aad_object_id}
        events = [
            self.activity(person, conversation, type="installationUpdate", action="add"),
            self.activity(
                person, conversation, type="conversationUpdate", membersAdded=[{"id": BOT_ID}]
            ),
        ]
        for event in events:
            event["from"] = sender
            status = await self.post(event)
            self.install_events.append((person.user_id, str(event["type"]), status))
            if status >= 300:
                raise RuntimeError(f"the bot answered {event['type']} with {status}")

    def people(self, count: int, prefix: str = "Member") -> list[TeamsPerson]:
        return [
            self.person(f"{prefix} {chr(65 + i // 26)}{chr(65 + i % 26)}") for i in range(count)
        ]

    def client(self, person: TeamsPerson, locale: str, time_zone: str = "") -> None:
        """From now on this person's activities carry `locale` and, as Teams sends on
        every message, a clientInfo entity with that locale and time zone."""
        self._clients[person.user_id] = (locale, time_zone)

    def activity(self, person: TeamsPerson, conversation: Json, **fields: Any) -> Json:
        client = self._clients.get(person.user_id)
        if client is not None:
            locale, zone = client
            info = {"type": "clientInfo", "locale": locale, "country": "FR", "platform": "Web"}
            if zone:
                info["timezone"] = zone
            fields = {**fields, "locale": locale, "entities": [*fields.get("entities", []), info]}
        return {
            "type": "message",
            "id": f"act-{next(self._ids)}-{uuid.uuid4().hex[:8]}",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "timestamp": "2026-11-26T10:00:00.000Z",
            "from": {
                "id": person.user_id,
                "name": person.name,
                "aadObjectId": person.aad_object_id,
            },
            "recipient": {"id": BOT_ID, "name": "Send"},
            "conversation": conversation,
            "channelData": {"tenant": {"id": self.tenant_id}},
            "locale": "en-US",
            **fields,
        }

    def personal(self, person: TeamsPerson) -> Json:
        return {
            "id": self.connector.chat_of(person.user_id),
            "conversationType": "personal",
            "tenantId": self.tenant_id,
        }

    async def post(self, activity: Json, headers: dict[str, str] | None = None) -> int:
        assert self._session is not None
        async with self._session.post(
            f"{self.app_url}/api/messages", json=activity, headers=headers or {}
        ) as response:
            return response.status

    async def install(self, person: TeamsPerson) -> int:
        return await self.post(
            self.activity(
                person,
                self.personal(person),
                type="conversationUpdate",
                membersAdded=[{"id": person.user_id}, {"id": BOT_ID}],
            )
        )

    async def say(
        self, person: TeamsPerson, text: str, mentions: list[TeamsPerson] | None = None
    ) -> int:
        entities = []
        for mentioned in mentions or []:
            tag = f"<at>{mentioned.name}</at>"
            text = f"{text} {tag}" if tag not in text else text
            entities.append(
                {
                    "type": "mention",
                    "text": tag,
                    "mentioned": {"id": mentioned.user_id, "name": mentioned.name},
                }
            )
        return await self.post(
            self.activity(person, self.personal(person), text=text, entities=entities)
        )

    async def paste(self, person: TeamsPerson, data: bytes, caption: str = "") -> int:
        """A picture pasted in the 1:1 chat, as Teams sends it: an `image/*` attachment
        on the connector and the text/html of the message as Teams drew it."""
        url = self.connector.paste(data)
        html = f'<div><img src="{url}" itemtype="http://schema.skype.com/AMSImage"></div>'
        attachments = [
            {"contentType": "image/*", "contentUrl": url},
            {"contentType": "text/html", "content": f"<p>{caption}</p>{html}"},
        ]
        return await self.post(
            self.activity(person, self.personal(person), text=caption, attachments=attachments)
        )

    async def send_file(
        self, person: TeamsPerson, name: str, data: bytes, caption: str = ""
    ) -> int:
        """A file attached in the 1:1 chat (manifest supportsFiles): Teams hands the bot a
        download.info attachment with a pre-authorised OneDrive downloadUrl."""
        return await self.send_file_link(person, name, self.connector.upload_file(data), caption)

    async def send_file_link(
        self, person: TeamsPerson, name: str, url: str, caption: str = ""
    ) -> int:
        """A file attachment whose downloadUrl is `url`, whatever it names."""
        attachment = {
            "contentType": "application/vnd.microsoft.teams.file.download.info",
            "contentUrl": f"https://contoso-my.sharepoint.com/personal/x/Documents/{name}",
            "name": name,
            "content": {
                "downloadUrl": url,
                "uniqueId": uuid.uuid4().hex,
                "fileType": name.rsplit(".", 1)[-1],
            },
        }
        return await self.post(
            self.activity(person, self.personal(person), text=caption, attachments=[attachment])
        )

    async def submit(self, person: TeamsPerson, value: Json, card_id: str = "card-1") -> int:
        return await self.post(
            self.activity(person, self.personal(person), value=value, replyToId=card_id)
        )

    def relayed_cards(self, person: TeamsPerson) -> list[tuple[str, Json]]:
        """(activity id, card) of each relayed message card the person received."""
        chat = self.connector.chat_of(person.user_id)
        found = []
        for item in self.connector.received:
            if item.conversation_id != chat:
                continue
            for att in item.activity.get("attachments") or []:
                card = att.get("content") or {}
                actions = card.get("actions", []) if isinstance(card, dict) else []
                if any(a.get("data", {}).get("sendAction") == "reply" for a in actions):
                    found.append((item.id, card))
        return found

    async def tap(self, person: TeamsPerson, answer: str, card: int = -1) -> int:
        """The person taps a one-tap answer on a relayed card (the latest by default), as
        Teams sends it: the button's data, replying to that card's activity."""
        card_id, content = self.relayed_cards(person)[card]
        buttons = [
            a
            for block in content["body"]
            if block.get("type") == "ActionSet"
            for a in block["actions"]
            if a["title"] == answer
        ]
        assert buttons, f"no {answer!r} button on the card"
        return await self.submit(person, dict(buttons[0]["data"]), card_id)

    async def reply_on_card(self, person: TeamsPerson, text: str, card: int = -1) -> int:
        """The person types into a relayed card's reply box and presses Reply."""
        card_id, content = self.relayed_cards(person)[card]
        (reply,) = [a for a in content["actions"] if a["data"].get("sendAction") == "reply"]
        return await self.submit(person, {**reply["data"], "reply": text}, card_id)

    def replies(self, person: TeamsPerson) -> list[str]:
        """Texts the bot answered in the person's 1:1 chat (replies and notices)."""
        return self.connector.texts_to(self.connector.chat_of(person.user_id))

    def receipts(self, person: TeamsPerson) -> list[str]:
        """The receipts under the person's messages, each as it shows now."""
        return self.connector.receipts_to(self.connector.chat_of(person.user_id))

    def last_reply(self, person: TeamsPerson) -> str:
        replies = self.replies(person)
        assert replies, f"no reply to {person.name}"
        return replies[-1]

    def relayed(self, person: TeamsPerson) -> list[Json]:
        """Relayed message cards the person received."""
        return [
            card
            for card in self.connector.cards_to(self.connector.chat_of(person.user_id))
            if any(a.get("data", {}).get("sendAction") == "reply" for a in card.get("actions", []))
        ]

    async def wait_relayed(
        self, person: TeamsPerson, count: int, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        await self.connector.wait_for(
            lambda: len(self.relayed(person)) >= count, timeout, f"{count} copies to {person.name}"
        )


def card_text(card: Json) -> str:
    """All text shown by a card, in order, for assertions."""
    parts: list[str] = []

    def walk(element: Any) -> None:
        if isinstance(element, dict):
            if element.get("type") in ("TextBlock", "TextRun") and "text" in element:
                parts.append(str(element["text"]))
            for value in element.values():
                walk(value)
        elif isinstance(element, list):
            for item in element:
                walk(item)

    walk(card.get("body", []))
    return " ".join(parts)
