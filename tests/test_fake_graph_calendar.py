"""The fake Graph's calendars are as strict as Exchange Online's (tests/fakes/graph_calendar.py):
what a client must send, what it is refused, and each person's own copy of a meeting."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph
from tests.test_fake_teamwork import bearer, bearer_with, error_code, get

Json = dict[str, Any]
START = datetime.datetime(2026, 12, 10, 9, 0, tzinfo=datetime.UTC)
WINDOW = {"startDateTime": "2026-12-07T00:00:00Z", "endDateTime": "2026-12-21T00:00:00Z"}


@pytest.fixture
async def meeting(graph: FakeGraph) -> str:
    for name in ("ann", "bob"):
        graph.add_user(f"{name}@contoso.com", name.title())
    return graph.add_meeting(
        "ann@contoso.com",
        "Planning",
        START,
        [("bob@contoso.com", "Bob"), ("zoe@fabrikam.com", "Zoe")],
    )


async def post(
    http: aiohttp.ClientSession, url: str, auth: dict[str, str], body: Json
) -> tuple[int, Json]:
    async with http.post(url, json=body, headers=auth) as response:
        return response.status, await response.json(content_type=None) or {}


async def test_calendar_view_needs_its_window_and_pages(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession, meeting: str
) -> None:
    auth = await bearer(entra, http)
    view = f"{graph.base_url}/users/bob@contoso.com/calendarView"
    status, body = await get(http, view, auth, startDateTime=WINDOW["startDateTime"])
    assert status == 400 and error_code(body) == "ErrorInvalidParameter"
    assert "StartDateTime and EndDateTime" in body["error"]["message"]
    for n in range(3):
        graph.add_meeting("ann@contoso.com", f"More {n}", START, [("bob@contoso.com", "Bob")])
    status, body = await get(http, view, auth, **WINDOW, **{"$top": "2"})
    assert status == 200 and len(body["value"]) == 2 and "@odata.nextLink" in body
    async with http.get(body["@odata.nextLink"], headers=auth) as response:
        rest = await response.json()
    assert len(rest["value"]) == 2 and "@odata.nextLink" not in rest
    # Bob's own copy: his response, and its own id (not the organizer's).
    mine = next(e for e in body["value"] + rest["value"] if e["iCalUId"] == meeting)
    assert mine["isOrganizer"] is False and mine["responseStatus"]["response"] == "none"
    assert mine["id"] != graph.copy_of("ann@contoso.com", meeting)["id"]
    assert mine["start"] == {"dateTime": "2026-12-10T09:00:00.0000000", "timeZone": "UTC"}
    # Outside the window: nothing.
    status, body = await get(
        http, view, auth, startDateTime="2027-01-01T00:00:00Z", endDateTime="2027-01-02T00:00:00Z"
    )
    assert status == 200 and body["value"] == []


async def test_answers_reach_the_organizer_only_when_sent(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession, meeting: str
) -> None:
    auth = await bearer(entra, http)
    bob_copy = graph.copy_of("bob@contoso.com", meeting)["id"]
    events = f"{graph.base_url}/users/bob@contoso.com/events"
    status, body = await get(http, events, auth, **{"$filter": "subject eq 'Planning'"})
    assert status == 400
    status, body = await get(http, events, auth, **{"$filter": f"iCalUId eq '{meeting}'"})
    assert status == 200 and [e["id"] for e in body["value"]] == [bob_copy]
    answer = f"{events}/{quote(bob_copy)}"
    status, _ = await post(http, f"{answer}/tentativelyAccept", auth, {"sendResponse": False})
    assert status == 202
    assert (
        graph.response_of("bob@contoso.com", meeting, seen_by="bob@contoso.com")
        == "tentativelyAccepted"
    )
    assert graph.response_of("bob@contoso.com", meeting, seen_by="ann@contoso.com") == "none"
    status, _ = await post(http, f"{answer}/accept", auth, {"sendResponse": True})
    assert status == 202
    assert graph.response_of("bob@contoso.com", meeting, seen_by="ann@contoso.com") == "accepted"
    # The organizer cannot answer her own meeting; nobody answers a cancelled one.
    ann_copy = graph.copy_of("ann@contoso.com", meeting)["id"]
    status, body = await post(
        http, f"{graph.base_url}/users/ann@contoso.com/events/{quote(ann_copy)}/decline", auth, {}
    )
    assert status == 400 and "meeting organizer" in body["error"]["message"]
    graph.cancel_meeting(meeting)
    status, body = await post(http, f"{answer}/decline", auth, {})
    assert status == 400 and error_code(body) == "ErrorCalendarIsCancelledForDecline"
    status, body = await post(http, f"{events}/AAMkAGnothing/accept", auth, {})
    assert status == 404 and error_code(body) == "ErrorItemNotFound"


async def test_permissions_and_the_access_policy(
    graph: FakeGraph, entra: FakeEntra, http: aiohttp.ClientSession, meeting: str
) -> None:
    view = f"{graph.base_url}/users/bob@contoso.com/calendarView"
    reader = await bearer_with(entra, http, "Calendars.Read")
    assert (await get(http, view, reader, **WINDOW))[0] == 200
    bob_copy = graph.copy_of("bob@contoso.com", meeting)["id"]
    answer = f"{graph.base_url}/users/bob@contoso.com/events/{quote(bob_copy)}/accept"
    status, body = await post(http, answer, reader, {})
    assert status == 403 and body["error"]["message"].startswith("Access is denied")
    mail_only = await bearer_with(entra, http, "Mail.Send")
    status, body = await get(http, view, mail_only, **WINDOW)
    assert status == 403 and error_code(body) == "ErrorAccessDenied"
    graph.calendar_policy = {"ann@contoso.com"}
    status, body = await get(http, view, await bearer(entra, http), **WINDOW)
    assert status == 403 and body["error"]["message"] == "Access to OData is disabled."
