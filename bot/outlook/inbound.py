"""A mail written in Outlook into a group's thread, relayed to the rest of the group.

Graph change notifications on the service mailbox's Inbox say "something arrived";
a delta query on the Inbox says what, and also catches up on anything missed while
the app was down or a notification was lost (the delta link is kept in the store).
A mail belongs to a group when its conversationId is the group's thread; it must be
written by a current member as themselves (`sender` and `from` the same address) and
be vouched for by the receiving Exchange: sent inside the organisation
(`X-MS-Exchange-Organization-AuthAs: Internal`) or `compauth=pass` for its From domain,
never softpass, none or temperror (a member is told in Teams, at most once a day, that a
mail from their address was not relayed). The Teams copies are
sent as for any message, with the mail's photos and files (its fileAttachments, taken
through `Media`; an inline one only when the new part of the mail shows it by `cid:`, so
quoted pictures and signatures stay out); the Outlook copy goes only to the thread's addresses the mail
did not reach (a Reply All reached them all: none; a plain Reply reached only Send), which
the core decides from the mail's sender and recipients. The mail's id makes a re-read
harmless.

A notification counts only with our clientState and the id of the subscription Send
made (kept in the store). Lifecycle notifications: `reauthorizationRequired` renews the
subscription, `subscriptionRemoved` makes it again, `missed` runs the delta catch-up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from bot.core.errors import MediaNotTaken, Refused
from bot.core.features.manage import manage
from bot.core.features.media import Media, Upload
from bot.core.features.one_tap import one_tap
from bot.core.features.polls import Polls
from bot.core.membership.groups import Groups
from bot.core.model import Group, Person, Source, StoredMedia
from bot.core.ports import Clock, DirectoryUnavailable, TeamsSender
from bot.core.sending.relay import Relay
from bot.core.sending.thread import OutlookThread
from bot.core.texts import say
from bot.core.texts import text as worded
from bot.graph.client import GraphClient
from bot.http_status import is_passing_failure
from bot.outlook.directory import GraphDirectory
from bot.outlook.html_text import html_to_text
from bot.outlook.mail_attachments import MailAttachments
from bot.outlook.mail_checks import (
    AUTOMATIC,
    NotNow,
    Verdict,
    address_of,
    addresses_of,
    exchange_verdict,
    relative,
)
from bot.outlook.reply_address import ReplyAddresses, ReplyTarget
from bot.outlook.subscription import GraphSubscription
from bot.store.repository import DocumentStore

log = logging.getLogger("send.outlook.inbound")

_SELECT = (
    "id,conversationId,from,sender,toRecipients,ccRecipients,isDraft,internetMessageId,"
    "uniqueBody,body,subject,hasAttachments"
)
# Read only for a mail that would be relayed: Graph returns the headers only when asked.
_HEADERS_SELECT = "internetMessageHeaders"
# After a pass Graph cut short (a failed page, a mail it could not describe), the next.
PASS_RETRY_SECONDS = 5.0
# A reply-address mail's change or vote is remembered this long, so a mail read again
# (the Inbox's delta read once more after a failure) does nothing twice.
ANSWER_KEPT = timedelta(days=30)
# What starts a signature under a mail's words ("-- " as mail clients write it).
SIGNATURE_MARKS = ("--", "—", "__")  # lines are compared stripped
# A member hears at most this often that a mail bearing their address was not relayed.
UNVOUCHED_NOTICE_EVERY = timedelta(days=1)


class OutlookInbox:
    def __init__(
        self,
        graph: GraphClient,
        store: DocumentStore,
        relay: Relay,
        mailbox: str,
        notification_url: str,
        client_state: str,
        clock: Clock,
        teams: TeamsSender,
        directory: GraphDirectory,
        media: Media,
        answers: ReplyAnswers | None = None,
    ) -> None:
        self._answers = answers
        self._graph = graph
        self._media = media
        self._directory = directory
        self._store = store
        self._relay = relay
        self._mailbox = mailbox.lower()
        self._user = f"/users/{quote(mailbox)}"
        self._teams = teams
        self._clock = clock
        # Refused notifications since the last time they were logged (`_count_foreign`).
        self._foreign = 0
        self._foreign_logged_at = -60.0
        self._catching_up = asyncio.Lock()
        self._again = False
        self._retry_due = False  # a pass Graph cut short is to be read again shortly
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscription = GraphSubscription(
            graph, store, mailbox, notification_url, client_state, clock
        )
        self._attachments = MailAttachments(graph, mailbox)

    # subscription

    async def start(self) -> None:
        """Subscribes (or renews) and catches up; runs in the background, never blocks start-up."""
        self._spawn(self._keep_subscribed())
        self._spawn(self.catch_up())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _keep_subscribed(self) -> None:
        await self._subscription.keep()

    async def _resubscribe(self) -> None:
        await self._subscription.subscribe()

    # notifications

    async def receive(self, notifications: Sequence[dict[str, Any]]) -> bool:
        """Graph's change and lifecycle notifications; False when none is for Send's own
        subscription (then nothing is done). The work runs in the background: Graph wants
        an answer within seconds."""
        ours = [n for n in notifications if await self._subscription.ours(n)]
        if not ours:
            self._count_foreign()
        events = {str(n.get("lifecycleEvent") or "") for n in ours}
        if events & {"reauthorizationRequired", "subscriptionRemoved"}:
            # A PATCH renews (and so reauthorizes); a removed one answers 404 and is made again.
            self._spawn(self._resubscribe())
        if events & {"", "missed"}:  # "" = a change notification: new mail
            self._spawn(self.catch_up())
        return bool(ours)

    def _count_foreign(self) -> None:
        """Notifications that are not for Send's subscription (forged, or stale) are
        counted, and logged at INFO at most once a minute with the count: anyone can post
        them, and a WARNING each would let them fill the log."""
        self._foreign += 1
        now = time.monotonic()
        if now - self._foreign_logged_at >= 60:
            log.info(
                "graph notifications not for this service's subscription",
                extra={"count": self._foreign},
            )
            self._foreign, self._foreign_logged_at = 0, now

    async def catch_up(self) -> int:
        """Reads what arrived since the last delta link; returns how many mails were relayed."""
        if self._catching_up.locked():
            self._again = True  # the running pass will go round once more
            return 0
        relayed = 0
        async with self._catching_up:
            while True:
                self._again = False
                done, finished = await self._one_pass()
                relayed += done
                if not finished and not self._again and not self._retry_due:
                    # Graph failed part-way: read again a little later rather than wait
                    # for the next mail's notification (there may be none for a while);
                    # one such retry at a time, however many notifications come meanwhile.
                    self._retry_due = True
                    self._spawn(self._later())
                if not self._again:
                    return relayed

    async def _later(self) -> None:
        await asyncio.sleep(PASS_RETRY_SECONDS)
        self._retry_due = False
        await self.catch_up()

    async def _one_pass(self) -> tuple[int, bool]:
        """(mails relayed, whether the pass read up to the delta link)."""
        key = f"graph-delta:{self._mailbox}"
        state = await self._store.get_state(key) or {}
        link = str(state.get("deltaLink", ""))
        first_sync = not link
        path = link or f"{self._user}/mailFolders/inbox/messages/delta?$select={_SELECT}"
        relayed = 0
        while path:
            page = await self._graph.call(
                "GET", path, mailbox=self._mailbox, headers={"Prefer": "odata.maxpagesize=50"}
            )
            if page.status == 410:  # the sync state expired: start over from now
                await self._store.put_state(key, {})
                return relayed, True
            if not page.ok:
                return relayed, False
            for mail in page.body.get("value", []):
                # The first sync only learns where "now" is; older mail is not replayed.
                try:
                    if not first_sync and await self._relay_mail(mail):
                        relayed += 1
                except NotNow:
                    # Graph could not say who wrote it: the saved link stays, so the next
                    # pass reads this mail again (what was relayed is not relayed twice).
                    return relayed, False
            next_link = page.body.get("@odata.nextLink")
            delta_link = page.body.get("@odata.deltaLink")
            path = relative(str(next_link)) if next_link else ""
            if delta_link:
                await self._store.put_state(key, {"deltaLink": relative(str(delta_link))})
        return relayed, True

    async def _relay_mail(self, mail: dict[str, Any]) -> bool:
        sender = address_of(mail.get("from"))
        if mail.get("isDraft") or not sender or sender == self._mailbox:
            return False
        subject = str(mail.get("subject") or "").lower()
        if subject.startswith(AUTOMATIC) or sender.startswith(("postmaster@", "mailer-daemon@")):
            return False  # out-of-office answers, receipts and bounces are not messages
        target, group = await self._group_of(mail)
        if group is None:
            return False
        if address_of(mail.get("sender")) != sender:
            # `from` is who the mail says wrote it, `sender` the account that sent it: a
            # delegate, or anyone at all for mail from outside. Members write as themselves.
            log.info(
                "outlook reply sent for someone else ignored", extra={"group_id": group.group_id}
            )
            return False
        person = await self._member_by_address(group.tenant_id, sender)
        if person is None or not group.has_member(person.person_id):
            log.info("outlook reply from a non-member ignored", extra={"group_id": group.group_id})
            return False
        verdict = await self._verdict(str(mail.get("id", "")), sender)
        if verdict is None:
            return False  # gone meanwhile, or not ours to read
        if not verdict.vouched:
            log.info(
                "outlook reply not vouched for by Exchange: ignored",
                extra={"group_id": group.group_id, "reason": verdict.said},
            )
            await self._tell_unvouched(person, group)
            return False
        content = str((mail.get("uniqueBody") or mail.get("body") or {}).get("content", ""))
        text = html_to_text(content)
        identity = str(mail.get("internetMessageId") or mail.get("id"))
        message_id = hashlib.sha256(f"mail:{identity}".encode()).hexdigest()[:32]
        if target is not None and self._answers is not None:
            # A link's reply: its address says whether it is a change, a vote or words.
            done, text = await self._answers.take(person, group, target, text, message_id)
            if done:
                return True
        # Whoever the mail reached has it in the thread already; the core mails the rest.
        reached = await self._reached(mail, sender)
        refusal: Refused | None = None
        stored: tuple[StoredMedia, ...] = ()
        uploads = await self._uploads(mail, content, group)
        if uploads:
            try:
                stored = await self._media.take(group, uploads, by=sender)
            except Refused as refused:
                refusal = refused
                log.info(
                    "outlook reply media refused",
                    extra={"group_id": group.group_id, "mail_id": str(mail.get("id", ""))},
                )
        if refusal is not None and not text.strip():
            await self._tell(person, group, "outlook.not_relayed", refusal)
            return False
        try:
            relayed = await self._relay.from_outlook(
                person, group, text, message_id, reached=reached, media=stored
            )
        except Refused as refused:
            # Too long or empty: say so where the person reads Send, since the mail went out.
            await self._discard(stored)
            log.info("outlook reply not relayed", extra={"reason": str(refused)})
            await self._tell(person, group, "outlook.not_relayed", refused)
            return False
        except BaseException:
            await self._discard(stored)
            raise
        if relayed is None:
            await self._discard(stored)  # relayed before: this read took them again
            return False
        if refusal is not None:
            await self._tell(person, group, "outlook.relayed_without_media", refusal)
        return True

    async def _group_of(self, mail: dict[str, Any]) -> tuple[ReplyTarget | None, Group | None]:
        """The group a mail is for: the one its reply address names (a mail's answer link
        wrote to it), else the one whose thread its conversation is (a Reply All)."""
        if self._answers is not None:
            to = addresses_of(mail.get("toRecipients")) | addresses_of(mail.get("ccRecipients"))
            for address in sorted(to):
                target = self._answers.replies.read(address)
                if target is not None:
                    found = await self._store.find_groups(target.group_id)
                    group = next((g for g in found if g.group_id == target.group_id), None)
                    return target, group
        conversation = str(mail.get("conversationId", ""))
        return None, await self._store.group_for_outlook_conversation(conversation)

    async def _tell(self, person: Person, group: Group, key: str, refusal: Refused) -> None:
        """One line in the person's Teams chat, in their language: what became of their
        reply (sent without its media: the media's reason alone)."""
        if not person.teams_chat_ready:
            return
        lang = person.language
        reason = (
            refusal.why.say(lang)
            if isinstance(refusal, MediaNotTaken) and (key == "outlook.relayed_without_media")
            else refusal.say(lang)
        )
        await self._teams.send_notice(person, say(lang, key, group=group.name, reason=reason))

    async def _discard(self, stored: tuple[StoredMedia, ...]) -> None:
        if stored:
            await self._media.discard(stored)

    async def _uploads(self, mail: dict[str, Any], content: str, group: Group) -> list[Upload]:
        """The mail's files, and its pictures the new part shows (`cid:` in `content`).
        Graph's hasAttachments leaves out inline pictures, so a `cid:` is a reason to look."""
        return await self._attachments.uploads(mail, content, group)

    async def _member_by_address(self, tenant_id: str, address: str) -> Person | None:
        """The person who wrote from this address: by any address Send knows of theirs,
        else by the object id the directory gives for it (an alias Send never saw)."""
        person = await self._store.person_for_address(tenant_id, address)
        if person is not None:
            return person
        try:
            entry = await self._directory.find(tenant_id, address)
        except DirectoryUnavailable:
            return None  # not known now: the mail is not vouched for
        if entry is None or not entry.aad_object_id:
            return None
        return await self._store.person_for_object(tenant_id, entry.aad_object_id)

    async def _reached(self, mail: dict[str, Any], sender: str) -> frozenset[str] | None:
        """The addresses a mail went to, its author's included; None when Graph no longer
        has the mail to say (then no Outlook copy is made: better none than a second)."""
        if "toRecipients" not in mail:
            # Read through a delta link saved before the recipients were selected.
            read = await self._graph.call(
                "GET",
                f"{self._user}/messages/{quote(str(mail.get('id', '')), safe='')}"
                "?$select=toRecipients,ccRecipients",
                mailbox=self._mailbox,
            )
            if is_passing_failure(read.status):
                raise NotNow
            if not read.ok:
                return None
            mail = read.body
        reached = {sender, *addresses_of(mail.get("toRecipients"))}
        reached |= addresses_of(mail.get("ccRecipients"))
        return frozenset(reached - {""})

    async def _verdict(self, mail_id: str, address: str) -> Verdict | None:
        """What the receiving Exchange says of the mail (its headers, read from Graph)."""
        headers = await self._graph.call(
            "GET",
            f"{self._user}/messages/{quote(mail_id, safe='')}?$select={_HEADERS_SELECT}",
            mailbox=self._mailbox,
        )
        if is_passing_failure(headers.status):
            raise NotNow
        if not headers.ok:
            return None
        found = headers.body.get("internetMessageHeaders") or []
        return exchange_verdict(found, address.rpartition("@")[2])

    async def _tell_unvouched(self, person: Person, group: Group) -> None:
        """The member whose address a refused mail bore hears of it in Teams, at most once
        a day: it may be someone writing as them."""
        key = f"unvouched-mail:{person.tenant_id}:{person.person_id}"
        if not await self._store.remember_once(key, self._clock.now(), UNVOUCHED_NOTICE_EVERY):
            return
        if person.teams_chat_ready:
            notice = say(person.language, "outlook.not_vouched", group=group.name)
            await self._teams.send_notice(person, notice)


class ReplyAnswers:
    """A reply to one of a group's reply addresses (`bot.outlook.reply_address`): the
    address says what it is. A change's or a vote's address makes that change or vote
    for its sender, once per mail however often the Inbox is read again, whatever the
    mail says (its words are for the person); the group's plain address takes a message,
    where a ready answer with nothing but a signature under it is relayed alone."""

    def __init__(
        self,
        replies: ReplyAddresses,
        store: DocumentStore,
        groups: Groups,
        polls: Polls,
        teams: TeamsSender,
        thread: OutlookThread,
        clock: Clock,
    ) -> None:
        self.replies = replies
        self._store = store
        self._groups = groups
        self._polls = polls
        self._teams = teams
        self._thread = thread
        self._clock = clock

    async def take(
        self, person: Person, group: Group, target: ReplyTarget, text: str, message_id: str
    ) -> tuple[bool, str]:
        """(True, _) when the mail was a change or a vote (done here, or done before);
        else (False, the text to relay)."""
        if target.change is None and not target.poll_prefix:
            return False, _answer_alone(text)
        key = f"mail-answer:{group.group_id}:{message_id}"
        if not await self._store.remember_once(key, self._clock.now(), ANSWER_KEPT):
            return True, text  # read again: what it asked was done the first time
        try:
            if target.change is not None:
                said = await manage(self._groups, person, group, target.change)
                log.info("group managed by mail", extra={"group_id": group.group_id})
            else:
                said = await self._vote(person, group, target, message_id)
        except Refused as refusal:
            said = refusal.say(person.language)
        await self._tell(person, group, said)
        return True, text

    async def _vote(
        self, person: Person, group: Group, target: ReplyTarget, message_id: str
    ) -> str:
        poll_id = next((s.message_id for s in group.recent if target.is_poll(s.message_id)), "")
        if not poll_id:  # an older poll, out of the recent list
            found = [m for m in await self._store.messages_of(group.group_id) if m.poll]
            poll_id = next((m.message_id for m in found if target.is_poll(m.message_id)), "")
        if not poll_id:
            raise Refused(worded("poll.gone"))
        poll = await self._polls.answer(
            person, group, poll_id, target.option, Source.OUTLOOK, message_id
        )
        assert poll.poll is not None
        choice = poll.poll.options[target.option]
        return say(person.language, "poll.answered", answer=choice, question=poll.text)

    async def _tell(self, person: Person, group: Group, said: str) -> None:
        """What became of the mail, where the person reads Send: Teams, else the thread."""
        if person.teams_chat_ready:
            await self._teams.send_notice(person, said)
            return
        current = await self._store.get_group(group.tenant_id, group.group_id)
        if current is not None and current.has_member(person.person_id):
            await self._thread.tell(current, person, said, self._clock.now())


def _answer_alone(text: str) -> str:
    """A ready answer (`Yes`) followed by nothing but a signature (`-- ` and below) is the
    answer alone; any other text is relayed as written."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return text
    try:
        answer = one_tap(lines[0])
    except Refused:
        return text
    if len(lines) == 1 or lines[1] in SIGNATURE_MARKS:
        return answer
    return text
