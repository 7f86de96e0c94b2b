"""The calendar port's contract (tests/contracts/calendar_contract.py) on the in-memory
calendar and on Graph's adapter over the fake Graph."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from bot.core.ports import Calendar
from bot.outlook.calendar import GraphCalendar
from tests.conftest import graph_client
from tests.contracts.calendar_contract import *  # noqa: F403
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph
from tests.unit.calendar_fakes import MemoryCalendar


@dataclass
class OnGraph:
    calendar: Calendar
    graph: FakeGraph

    def add_meeting(
        self, organizer: str, subject: str, start: datetime, attendees: list[tuple[str, str]]
    ) -> str:
        return self.graph.add_meeting(organizer, subject, start, attendees)

    def cancel_meeting(self, ical_uid: str) -> None:
        self.graph.cancel_meeting(ical_uid)

    def deny(self, mailbox: str) -> None:
        every = {u.mail.lower() for u in self.graph.users.values()}
        self.graph.calendar_policy = (self.graph.calendar_policy or every) - {mailbox}


@dataclass
class InMemory:
    calendar: MemoryCalendar

    def add_meeting(
        self, organizer: str, subject: str, start: datetime, attendees: list[tuple[str, str]]
    ) -> str:
        return self.calendar.add_meeting(organizer, subject, start, attendees)

    def cancel_meeting(self, ical_uid: str) -> None:
        self.calendar.cancel_meeting(ical_uid)

    def deny(self, mailbox: str) -> None:
        self.calendar.denied.add(mailbox)


@pytest.fixture(params=["memory", "graph"])
async def calendars(
    request: pytest.FixtureRequest, entra: FakeEntra, graph: FakeGraph
) -> AsyncIterator[OnGraph | InMemory]:
    if request.param == "memory":
        yield InMemory(MemoryCalendar())
        return
    for name in ("ann", "bob", "cy"):
        graph.add_user(f"{name}@contoso.com", name.title())
    async with graph_client(entra, graph) as client:
        yield OnGraph(GraphCalendar(client), graph)
