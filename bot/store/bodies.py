"""How the store's documents are written and read back: a person, a group with its
recent summaries, a message with its deliveries, poll, media and mentions.

Times that are compared in queries (`sentAt`, `recentSince`, `expiresAt`) are written
in UTC, so their ISO-8601 text sorts as they happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.core.membership.addresses import Mention
from bot.core.membership.groups import name_key
from bot.core.model import (
    Channel,
    Delivery,
    DeliveryState,
    DraftStep,
    Group,
    MeetingLink,
    Member,
    Mentioned,
    Message,
    MessageSummary,
    NewGroupDraft,
    Person,
    Poll,
    Quote,
    Receipt,
    Source,
    StoredMedia,
    Styled,
    TeamsReach,
)
from bot.core.texts import stored_language
from bot.store.documents import Doc, JsonDict


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def person_body(p: Person) -> JsonDict:
    teams: JsonDict | None = None
    if p.teams is not None:
        teams = {
            "userId": p.teams.user_id,
            "serviceUrl": p.teams.service_url,
            "botId": p.teams.bot_id,
            "conversationId": p.teams.conversation_id,
            "reachable": p.teams.reachable,
        }
    return {
        "type": "person",
        "tenantId": p.tenant_id,
        "personId": p.person_id,
        "displayName": p.display_name,
        "email": p.email,
        "aadObjectId": p.aad_object_id,
        "teams": teams,
        "activeGroupId": p.active_group_id,
        "outlookOn": p.outlook_on,
        "receiptsOn": p.receipts_on,
        "newGroup": _draft_body(p.new_group) if p.new_group else None,
        "newGroupEndedBy": p.new_group_ended_by,
        "addresses": list(p.addresses),
        "teamsUnavailable": p.teams_unavailable,
        "teamsRetryAt": _utc(p.teams_retry_at) if p.teams_retry_at else None,
        "language": p.language.value,
        "timeZone": p.time_zone,
    }


def _person(doc: Doc) -> Person:
    b = doc.body
    t: dict[str, Any] | None = b.get("teams")
    return Person(
        tenant_id=str(b["tenantId"]),
        person_id=str(b["personId"]),
        display_name=str(b["displayName"]),
        email=str(b.get("email", "")),
        aad_object_id=str(b.get("aadObjectId", "")),
        teams=None
        if t is None
        else TeamsReach(
            user_id=str(t["userId"]),
            service_url=str(t["serviceUrl"]),
            bot_id=str(t.get("botId", "")),
            conversation_id=str(t.get("conversationId", "")),
            reachable=bool(t.get("reachable", True)),
        ),
        active_group_id=str(b.get("activeGroupId", "")),
        outlook_on=bool(b.get("outlookOn", True)),
        receipts_on=bool(b.get("receiptsOn", True)),
        # `inDialog` (before drafts were kept with the person) is left unread: that
        # dialog's answers were with botbuilder, so its next text is read as new.
        new_group=_draft(b["newGroup"]) if b.get("newGroup") else None,
        new_group_ended_by=str(b.get("newGroupEndedBy") or ""),
        addresses=tuple(str(a) for a in b.get("addresses") or ()),
        teams_unavailable=str(b.get("teamsUnavailable") or ""),
        teams_retry_at=datetime.fromisoformat(b["teamsRetryAt"]) if b.get("teamsRetryAt") else None,
        # Written before languages and zones were kept: English, zone unknown.
        language=stored_language(b.get("language")),
        time_zone=str(b.get("timeZone") or ""),
        version=doc.etag,
    )


def _draft_body(d: NewGroupDraft) -> JsonDict:
    return {
        "step": d.step.value,
        "name": d.name,
        "members": d.members,
        "startedAt": _utc(d.started_at) if d.started_at else None,
        "mentions": [
            {
                "teamsUserId": m.teams_user_id,
                "displayName": m.display_name,
                "email": m.email,
                "aadObjectId": m.aad_object_id,
                "serviceUrl": m.service_url,
                "botId": m.bot_id,
                "personId": m.person_id,
            }
            for m in d.mentions
        ],
    }


def _draft(b: dict[str, Any]) -> NewGroupDraft:
    return NewGroupDraft(
        step=DraftStep(str(b["step"])),
        name=str(b.get("name", "")),
        members=str(b.get("members", "")),
        started_at=datetime.fromisoformat(b["startedAt"]) if b.get("startedAt") else None,
        mentions=tuple(
            Mention(
                teams_user_id=str(m["teamsUserId"]),
                display_name=str(m.get("displayName", "")),
                email=str(m.get("email", "")),
                aad_object_id=str(m.get("aadObjectId", "")),
                service_url=str(m.get("serviceUrl", "")),
                bot_id=str(m.get("botId", "")),
                person_id=str(m.get("personId", "")),
            )
            for m in b.get("mentions") or ()
        ),
    )


def _summary_body(s: MessageSummary) -> JsonDict:
    return {
        "messageId": s.message_id,
        "senderId": s.sender_id,
        "senderName": s.sender_name,
        "text": s.text,
        "sentAt": s.sent_at.isoformat(),
        "source": s.source.value,
        "edited": s.edited,
        **({"reactions": [[e, n] for e, n in s.reactions]} if s.reactions else {}),
    }


def _summary(b: JsonDict) -> MessageSummary:
    return MessageSummary(
        message_id=str(b["messageId"]),
        sender_id=str(b["senderId"]),
        sender_name=str(b["senderName"]),
        text=str(b["text"]),
        sent_at=datetime.fromisoformat(str(b["sentAt"])),
        source=Source(b["source"]),
        edited=bool(b.get("edited", False)),
        reactions=tuple((str(e), int(n)) for e, n in b.get("reactions") or ()),
    )


def group_body(g: Group) -> JsonDict:
    return {
        "type": "group",
        "tenantId": g.tenant_id,
        "groupId": g.group_id,
        "name": g.name,
        "nameKey": name_key(g.name),
        "ownerId": g.owner_id,
        "memberIds": list(g.member_ids),
        "members": [
            {
                "personId": m.person_id,
                "displayName": m.display_name,
                "joinedAt": m.joined_at.isoformat(),
                "muted": m.muted,
            }
            for m in g.members
        ],
        "createdAt": g.created_at.isoformat(),
        "recent": [_summary_body(s) for s in g.recent],
        # The oldest summary's time, for the retention purge to find groups to trim.
        "recentSince": _utc(min(s.sent_at for s in g.recent)) if g.recent else None,
        "outlookThread": g.outlook_thread,
        "outlookConversation": g.outlook_conversation,
        "meeting": None
        if g.meeting is None
        else {
            "iCalUId": g.meeting.ical_uid,
            "subject": g.meeting.subject,
            "start": g.meeting.start.isoformat(),
            "organizer": g.meeting.organizer,
            "rsvpId": g.meeting.rsvp_id,
            "cancelled": g.meeting.cancelled,
            "ended": g.meeting.ended,
        },
        # What the meetings' watch looks groups up by (upcoming meetings only).
        "meetingStart": _utc(g.meeting.start)
        if g.meeting and not (g.meeting.cancelled or g.meeting.ended)
        else None,
        "unfiled": [_held_body(m) for m in g.unfiled],
        "accepted": list(g.accepted),
        # The earliest claim among them, for recovery to find groups holding work left by
        # an instance that stopped (absent when there is none).
        "unfiledUntil": _utc(min(m.claimed_until or g.created_at for m in g.unfiled))
        if g.unfiled
        else None,
    }


def _group(doc: Doc) -> Group:
    b = doc.body
    return Group(
        tenant_id=str(b["tenantId"]),
        group_id=str(b["groupId"]),
        name=str(b["name"]),
        owner_id=str(b["ownerId"]),
        members=tuple(
            Member(
                person_id=str(m["personId"]),
                display_name=str(m["displayName"]),
                joined_at=datetime.fromisoformat(str(m["joinedAt"])),
                muted=bool(m.get("muted", False)),
            )
            for m in b["members"]
        ),
        created_at=datetime.fromisoformat(str(b["createdAt"])),
        recent=tuple(_summary(s) for s in b.get("recent", [])),
        outlook_thread=str(b.get("outlookThread", "")),
        outlook_conversation=str(b.get("outlookConversation", "")),
        meeting=_meeting(b.get("meeting")),
        unfiled=tuple(_message_of(m, None) for m in b.get("unfiled") or ()),
        accepted=tuple(str(i) for i in b.get("accepted") or ()),
        version=doc.etag,
    )


def _meeting(b: Any) -> MeetingLink | None:
    if not isinstance(b, dict):
        return None
    return MeetingLink(
        ical_uid=str(b["iCalUId"]),
        subject=str(b["subject"]),
        start=datetime.fromisoformat(str(b["start"])),
        organizer=str(b["organizer"]),
        rsvp_id=str(b.get("rsvpId", "")),
        cancelled=bool(b.get("cancelled", False)),
        ended=bool(b.get("ended", False)),
    )


def message_body(m: Message) -> JsonDict:
    return {
        "type": "message",
        "tenantId": m.tenant_id,
        "groupId": m.group_id,
        "messageId": m.message_id,
        "senderId": m.sender_id,
        "senderName": m.sender_name,
        "text": m.text,
        "sentAt": _utc(m.sent_at),
        "source": m.source.value,
        "pending": m.pending,
        "claimedBy": m.claimed_by,
        "claimedUntil": m.claimed_until.isoformat() if m.claimed_until else "",
        "deliveries": [
            {
                "recipientId": d.recipient_id,
                # StrEnum members are their values' strings: JSON writes them as such
                # (and `.value` is a slow property on 3.11, here 40 times a write).
                "channel": d.channel,
                "state": d.state,
                "attempts": d.attempts,
                "lastError": d.last_error,
                "addresses": list(d.addresses),
                "nextAttemptAt": d.next_attempt_at.isoformat() if d.next_attempt_at else "",
                "activityId": d.activity_id,
                "retract": d.retract,
                "seen": d.seen,
            }
            for d in m.deliveries
        ],
        "poll": None
        if m.poll is None
        else {
            "question": m.poll.question,
            "options": list(m.poll.options),
            "votes": [{"personId": p, "option": o} for p, o in m.poll.votes],
            "meeting": m.poll.meeting,
        },
        "media": [item.to_json() for item in m.media],
        "mentions": [{"personId": w.person_id, "name": w.name} for w in m.mentions],
        "editedAt": _utc(m.edited_at) if m.edited_at else None,
        "deletedAt": _utc(m.deleted_at) if m.deleted_at else None,
        "reactions": [{"personId": p, "type": r} for p, r in m.reactions],
        "replyTo": None
        if m.reply_to is None
        else {
            "messageId": m.reply_to.message_id,
            "senderName": m.reply_to.sender_name,
            "text": m.reply_to.text,
        },
        "styled": [_styled_body(s) for s in m.styled],
        "receipt": None
        if m.receipt is None
        else {"activityId": m.receipt.activity_id, "shown": m.receipt.shown},
    }


# What `_message_of` reads without a default.
_MESSAGE_REQUIRED = frozenset(
    ("tenantId", "groupId", "messageId", "senderId", "senderName", "text", "sentAt", "source")
)


# A delivery's fields as `_message_of` reads them when they are absent.
_DELIVERY_DEFAULTS: JsonDict = {
    "state": DeliveryState.PENDING,
    "attempts": 0,
    "lastError": "",
    "addresses": [],
    "nextAttemptAt": "",
    "activityId": "",
    "retract": False,
    "seen": False,
}


def _held_body(m: Message) -> JsonDict:
    """A message as its group holds it until it is filed: its body without what is at its
    default (a delivery as accepted is its recipient and channel, and the mail's addresses),
    so a burst of held messages keeps the group's writes small. Read back the same."""
    body = {
        k: v
        for k, v in message_body(m).items()
        if k in _MESSAGE_REQUIRED or v not in (None, "", [], False)
    }
    body["deliveries"] = [
        {k: v for k, v in d.items() if k not in _DELIVERY_DEFAULTS or v != _DELIVERY_DEFAULTS[k]}
        for d in body.get("deliveries", [])
    ]
    return body


def _message(doc: Doc) -> Message:
    return _message_of(doc.body, doc.etag)


def _message_of(b: JsonDict, etag: str | None) -> Message:
    """A message from its body; `etag` None for one not filed on its own yet."""
    return Message(
        tenant_id=str(b["tenantId"]),
        group_id=str(b["groupId"]),
        message_id=str(b["messageId"]),
        sender_id=str(b["senderId"]),
        sender_name=str(b["senderName"]),
        text=str(b["text"]),
        sent_at=datetime.fromisoformat(str(b["sentAt"])),
        source=Source(b["source"]),
        claimed_by=str(b.get("claimedBy", "")),
        claimed_until=datetime.fromisoformat(str(b["claimedUntil"]))
        if b.get("claimedUntil")
        else None,
        deliveries=tuple(
            Delivery(
                recipient_id=str(d["recipientId"]),
                channel=Channel(d["channel"]),
                state=DeliveryState(d.get("state", DeliveryState.PENDING)),
                attempts=int(d.get("attempts", 0)),
                last_error=str(d.get("lastError", "")),
                addresses=tuple(str(a) for a in d.get("addresses", [])),
                next_attempt_at=datetime.fromisoformat(str(d["nextAttemptAt"]))
                if d.get("nextAttemptAt")
                else None,
                activity_id=str(d.get("activityId", "")),
                retract=bool(d.get("retract", False)),
                seen=bool(d.get("seen", False)),
            )
            for d in b.get("deliveries", [])
        ),
        poll=_poll(b.get("poll")),
        media=tuple(StoredMedia.from_json(item) for item in b.get("media") or ()),
        mentions=tuple(
            Mentioned(str(w["personId"]), str(w["name"])) for w in b.get("mentions") or ()
        ),
        edited_at=datetime.fromisoformat(b["editedAt"]) if b.get("editedAt") else None,
        deleted_at=datetime.fromisoformat(b["deletedAt"]) if b.get("deletedAt") else None,
        reactions=tuple((str(r["personId"]), str(r["type"])) for r in b.get("reactions") or ()),
        reply_to=Quote(
            str(b["replyTo"]["messageId"]),
            str(b["replyTo"]["senderName"]),
            str(b["replyTo"]["text"]),
        )
        if b.get("replyTo")
        else None,
        styled=tuple(_styled(s) for s in b.get("styled") or ()),
        receipt=Receipt(str(b["receipt"]["activityId"]), str(b["receipt"]["shown"]))
        if b.get("receipt")
        else None,
        version=etag,
    )


def _styled_body(s: Styled) -> JsonDict:
    """Only what is set: most pieces are plain."""
    body: JsonDict = {"text": s.text}
    for name, value in (("bold", s.bold), ("italic", s.italic), ("strike", s.strike)):
        if value:
            body[name] = True
    if s.link:
        body["link"] = s.link
    return body


def _styled(b: Any) -> Styled:
    return Styled(
        str(b["text"]),
        bold=bool(b.get("bold")),
        italic=bool(b.get("italic")),
        strike=bool(b.get("strike")),
        link=str(b.get("link") or ""),
    )


def _poll(b: Any) -> Poll | None:
    if not isinstance(b, dict):
        return None
    return Poll(
        question=str(b["question"]),
        options=tuple(str(o) for o in b["options"]),
        votes=tuple((str(v["personId"]), int(v["option"])) for v in b.get("votes", [])),
        meeting=str(b.get("meeting", "")),
    )
