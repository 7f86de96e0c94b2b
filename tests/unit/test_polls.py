"""Polls in the core: the rules of `poll`, answers that change, concurrent answers that
lose nothing, and every copy's card updated in place with the same tally."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.core.errors import Refused
from bot.core.features.polls import PollCards, Polls, parse_poll
from bot.core.features.reactions import Reactions
from bot.core.features.receipts import Receipts
from bot.core.membership.reach import TeamsChats
from bot.core.membership.status import status_text
from bot.core.model import Channel, Group, Person, Poll, Source
from bot.core.ports import NoInstaller
from bot.core.sending.attempts import RetryPolicy
from bot.core.sending.delivery import DeliveryWorker
from bot.core.sending.ratelimit import RateLimiter
from bot.core.sending.relay import Relay
from bot.store.repository import DocumentStore
from tests.unit.core_fakes import (
    TENANT,
    FakeOutlook,
    FakeTeams,
    add_group,
    add_person,
    delivered,
    eventually,
    filed,
    relay_over,
)
from tests.unit.fakes import FakeClock, FakeSleep
from tests.unit.media_fakes import memory_media


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("Friday? | yes", "A poll has 2 to 6 answers; that one has 1."),
        ("Friday? | a | b | c | d | e | f | g", "A poll has 2 to 6 answers; that one has 7."),
        (" | yes | no", "A poll needs a question."),
        ("Friday? | yes | " + "x" * 41, "Each answer has at most 40 characters"),
        ("Friday? | yes | YES", "Two answers of the poll are the same."),
    ],
)
def test_a_poll_out_of_its_limits_is_refused(text: str, refusal: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_poll(text)
    assert str(refused.value).startswith(refusal)


def test_a_poll_is_its_question_and_its_answers() -> None:
    poll = parse_poll(" Friday 12:30, are you in? | yes | no |  late ")
    assert (poll.question, poll.options, poll.votes) == (
        "Friday 12:30, are you in?",
        ("yes", "no", "late"),
        (),
    )


class OrdinaryPolls:
    """These polls are no meeting's RSVP: nothing to set in a calendar."""

    async def respond(self, person: Person, group: Group, poll: Poll, option: int) -> None:
        assert not poll.meeting


@dataclass
class Rig:
    store: DocumentStore
    teams: FakeTeams
    polls: Polls
    cards: PollCards
    people: list[Person]
    group: Group
    relay: Relay
    receipts: Receipts


@pytest.fixture
async def rig(store: DocumentStore, clock: FakeClock, sleep: FakeSleep) -> AsyncIterator[Rig]:
    teams = FakeTeams(clock)
    limiter = RateLimiter(per_tenant=50, clock=clock.monotonic, sleep=FakeSleep(clock))
    cards = PollCards(store, teams, limiter, clock, memory_media(store))
    receipts = Receipts(store, teams, limiter, clock, sleep=FakeSleep(clock))
    worker = DeliveryWorker(
        store,
        teams,
        FakeOutlook(),
        limiter,
        RetryPolicy(deadline=timedelta(minutes=1)),
        clock=clock,
        sleep=sleep,
        chats=TeamsChats(store, teams, clock, NoInstaller()),
        media=memory_media(store),
        cards=cards,
        receipts=receipts,
    )
    relay = relay_over(store, clock, worker, 500)
    names = ["ann", *(f"p{n:02}" for n in range(19))]
    people = [await add_person(store, n) for n in names]
    group = await add_group(store, clock, "team", people[0], *people[1:])
    yield Rig(
        store,
        teams,
        Polls(store, relay, cards, OrdinaryPolls()),
        cards,
        people,
        group,
        relay,
        receipts,
    )
    await cards.drain(grace=5)
    await receipts.drain(grace=0)
    await worker.drain(grace=0)


async def ask(rig: Rig) -> str:
    await rig.polls.ask(rig.people[0], rig.group, "Friday? | yes | no | late", "poll-1")
    await delivered(rig.store, rig.group.group_id, "poll-1")
    return "poll-1"


async def test_every_member_gets_the_poll_the_asker_too(rig: Rig) -> None:
    poll_id = await ask(rig)
    message = await rig.store.get_message(rig.group.group_id, poll_id)
    assert message is not None and message.poll is not None
    teams = [d for d in message.deliveries if d.channel is Channel.TEAMS]
    assert {d.recipient_id for d in teams} == {p.person_id for p in rig.people}
    assert all(d.activity_id for d in teams)  # kept to update each copy in place


async def test_nineteen_answers_at_once_lose_none_and_every_card_shows_them(rig: Rig) -> None:
    poll_id = await ask(rig)
    voters = rig.people[1:]
    await asyncio.gather(
        *(
            rig.polls.answer(p, rig.group, poll_id, n % 3, Source.TEAMS, f"a-{p.person_id}")
            for n, p in enumerate(voters)
        )
    )
    message = await rig.store.get_message(rig.group.group_id, poll_id)
    assert message is not None and message.poll is not None
    assert sorted(p for p, _ in message.poll.votes) == sorted(p.person_id for p in voters)
    await rig.cards.drain(grace=5)
    # The last update of every copy shows all 19 answers and Ann still to answer.
    last = {person: shown for person, _, shown in rig.teams.updated}
    assert set(last) == {p.person_id for p in rig.people}
    for shown in last.values():
        assert shown.poll is not None
        assert [len(c.voters) for c in shown.poll.choices] == [7, 6, 6]
        assert shown.poll.waiting == ("Ann",)
    # At most one round of updates per answer: answers given during a round share the next.
    assert len(rig.teams.updated) <= 20 * len(voters)


async def test_a_changed_answer_moves_the_vote_and_is_in_the_history(rig: Rig) -> None:
    poll_id = await ask(rig)
    bob = rig.people[1]
    await rig.polls.answer(bob, rig.group, poll_id, 0, Source.TEAMS, "a1")
    await rig.polls.answer(bob, rig.group, poll_id, 0, Source.TEAMS, "a2")  # same again
    await rig.polls.answer(bob, rig.group, poll_id, 2, Source.OUTLOOK, "a3")
    message = await rig.store.get_message(rig.group.group_id, poll_id)
    assert message is not None and message.poll is not None
    assert message.poll.votes == ((bob.person_id, 2),)
    group = await rig.store.get_group(TENANT, rig.group.group_id)
    assert group is not None
    assert [s.text for s in group.recent] == [
        "Poll: Friday? (yes / no / late)",
        "yes (poll: Friday?)",
        "late, instead of yes (poll: Friday?)",
    ]
    # The answers go to the Outlook thread, not as Teams copies: the cards show them.
    answer = await filed(rig.store, rig.group.group_id, "a3")  # a plain line: held first
    assert [d.channel for d in answer.deliveries] == [Channel.OUTLOOK]
    await eventually(lambda: bool(rig.teams.updated))


async def test_an_answer_out_of_range_or_from_a_stranger_is_refused(
    rig: Rig, store: DocumentStore
) -> None:
    poll_id = await ask(rig)
    with pytest.raises(Refused, match="not one of the poll's answers"):
        await rig.polls.answer(rig.people[1], rig.group, poll_id, 3, Source.TEAMS, "x")
    stranger = await add_person(store, "zed")
    with pytest.raises(Refused, match="not a member"):
        await rig.polls.answer(stranger, rig.group, poll_id, 0, Source.TEAMS, "y")
    message = await rig.store.get_message(rig.group.group_id, poll_id)
    assert message is not None and message.poll is not None and message.poll.votes == ()


# reactions and read receipts on relayed copies (the same rig: 20 members)


async def test_nineteen_reactions_at_once_give_one_tally_on_every_copy_in_few_updates(
    rig: Rig,
) -> None:
    await rig.relay.from_teams(rig.people[0], rig.group, "pizza friday?", "m-1")
    message = await delivered(rig.store, rig.group.group_id, "m-1")
    copies = {d.recipient_id: d.activity_id for d in message.deliveries if d.activity_id}
    reactions = Reactions(rig.store, rig.cards, rig.receipts)
    reactors = rig.people[1:]
    # Teams is slow to take the first round's updates: the burst arrives meanwhile.
    rig.teams.hold_updates = asyncio.Event()
    await asyncio.gather(
        *(
            reactions.reacted(p, copies[p.person_id], ("heart" if n % 4 == 0 else "like",), ())
            for n, p in enumerate(reactors)
        )
    )
    rig.teams.hold_updates.set()
    await rig.cards.drain(grace=5)
    stored = await rig.store.get_message(rig.group.group_id, "m-1")
    assert stored is not None and len(stored.reactions) == 19
    last = {person: shown for person, _, shown in rig.teams.updated}
    assert set(last) == {p.person_id for p in reactors}  # the sender has no copy
    assert {shown.reactions for shown in last.values()} == {(("👍", 14), ("❤️", 5))}
    # Coalesced: the round under way, then one round for everything given meanwhile
    # (not one round per reaction: 361 updates).
    assert len(rig.teams.updated) == 2 * len(reactors)
    # Taking a reaction back takes it off every copy.
    first = reactors[0]
    await reactions.reacted(first, copies[first.person_id], (), ("heart",))
    await rig.cards.drain(grace=5)
    assert rig.teams.updated[-1][2].reactions == (("👍", 14), ("❤️", 4))
    # The group's history line has the tally too (the Outlook mail's "Earlier in" shows it).
    group = await rig.store.get_group(rig.group.tenant_id, rig.group.group_id)
    assert group is not None
    (line,) = [s for s in group.recent if s.message_id == "m-1"]
    assert line.reactions == (("👍", 14), ("❤️", 4))
    # The sender reads who reacted how in `status`.
    final = await rig.store.get_message(rig.group.group_id, "m-1")
    assert final is not None
    people = {p.person_id: p for p in rig.people}
    shown = status_text(rig.group, final, people, rig.people[0])
    assert "- Reactions: " in shown and f"👍 {reactors[1].display_name}" in shown
    assert f"❤️ {first.display_name}" not in shown  # taken back


async def test_a_read_receipt_marks_copies_up_to_it_seen_and_status_says_so(
    rig: Rig, clock: FakeClock
) -> None:
    relay = rig.relay
    for n in range(3):
        clock.advance(1)
        await relay.from_teams(rig.people[0], rig.group, f"message {n}", f"m-{n}")
        await delivered(rig.store, rig.group.group_id, f"m-{n}")
    reader = rig.people[1]
    copies = []
    for n in range(3):
        message = await rig.store.get_message(rig.group.group_id, f"m-{n}")
        assert message is not None
        copies.append(next(d for d in message.deliveries if d.recipient_id == reader.person_id))
    reactions = Reactions(rig.store, rig.cards, rig.receipts)
    assert await reactions.read(reader, copies[1].activity_id) == 2
    seen = []
    for n in range(3):
        message = await rig.store.get_message(rig.group.group_id, f"m-{n}")
        assert message is not None
        seen.append(next(d.seen for d in message.deliveries if d.recipient_id == reader.person_id))
    assert seen == [True, True, False]
    assert await reactions.read(reader, copies[1].activity_id) == 0  # again: nothing new
    last = await rig.store.get_message(rig.group.group_id, "m-1")
    assert last is not None
    people = {p.person_id: p for p in rig.people}
    text = status_text(rig.group, last, people, rig.people[0])
    assert f"- Seen in Teams: {reader.display_name}" in text
