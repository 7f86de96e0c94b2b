"""People's Outlook calendars through Microsoft Graph (application permission
`Calendars.ReadWrite`, limited to some mailboxes by an Exchange application access policy).

- upcoming meetings: `GET /users/{mailbox}/calendarView?startDateTime=&endDateTime=`,
  times asked in UTC (`Prefer: outlook.timezone="UTC"`), pages followed; sorted here;
- one meeting as that person's calendar has it: `GET /users/{mailbox}/events?$filter=
  iCalUId eq '...'` (each attendee has their own copy of an event, all with one iCalUId);
- a response: `POST /users/{mailbox}/events/{their copy's id}/accept` (or
  `tentativelyAccept`, `decline`) with `sendResponse: true`, as Outlook's buttons do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from bot.core.ports import Attendee, CalendarProblem, CalendarRefused, Meeting, MeetingResponse
from bot.graph.client import GraphClient, GraphResponse
from bot.http_status import is_passing_failure

_FIELDS = "id,iCalUId,subject,start,end,isCancelled,isOrganizer,organizer,attendees,type"
_UTC = {"Prefer": 'outlook.timezone="UTC"'}
_PAGES = 10  # 10 pages of 50 meetings: more than two weeks of anyone's calendar
_NEARBY = timedelta(days=7)  # a meeting moved by up to a week is still found by its time
_ACTIONS = {
    MeetingResponse.ACCEPTED: "accept",
    MeetingResponse.TENTATIVE: "tentativelyAccept",
    MeetingResponse.DECLINED: "decline",
}


class GraphCalendar:
    available = True

    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def upcoming(self, mailbox: str, start: datetime, end: datetime) -> list[Meeting]:
        events = await self._view(mailbox, start, end)
        found = [m for m in map(_meeting, events) if m is not None]
        return sorted(found, key=lambda m: m.start)

    async def meeting(
        self, mailbox: str, ical_uid: str, around: datetime | None = None
    ) -> Meeting | None:
        event = await self._event(mailbox, ical_uid, around)
        return _meeting(event) if event is not None else None

    async def respond(
        self,
        mailbox: str,
        ical_uid: str,
        response: MeetingResponse,
        around: datetime | None = None,
    ) -> None:
        action = _ACTIONS.get(response)
        if action is None:
            raise CalendarRefused(CalendarProblem.REFUSED, f"no such response: {response}")
        event = await self._event(mailbox, ical_uid, around)
        if event is None:
            raise CalendarRefused(CalendarProblem.MISSING, "not in the calendar")
        if event.get("isOrganizer"):
            return  # an organizer has no answer to give (Exchange refuses one)
        path = f"/users/{quote(mailbox)}/events/{quote(str(event['id']), safe='')}/{action}"
        # Not retried after an unsure failure: each accepted answer mails the organizer.
        answer = await self._graph.call(
            "POST", path, mailbox=mailbox, json={"sendResponse": True}, idempotent=False
        )
        _checked(answer)

    async def _view(self, mailbox: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The calendar view (every occurrence of a series on its own), pages followed."""
        path = (
            f"/users/{quote(mailbox)}/calendarView?startDateTime={_utc(start)}"
            f"&endDateTime={_utc(end)}&$select={_FIELDS}&$top=50"
        )
        events: list[dict[str, Any]] = []
        for _ in range(_PAGES):
            body = _checked(await self._graph.call("GET", path, mailbox=mailbox, headers=_UTC))
            events += [e for e in body.get("value") or [] if isinstance(e, dict) and e.get("id")]
            next_link = body.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link:
                break
            parts = urlsplit(next_link)
            path = parts.path.split("/v1.0", 1)[-1] + (f"?{parts.query}" if parts.query else "")
        return events

    async def _event(
        self, mailbox: str, ical_uid: str, around: datetime | None
    ) -> dict[str, Any] | None:
        """`mailbox`'s own copy of the meeting. An occurrence of a recurring meeting is
        found in the calendar view around its time (Graph gives occurrences their own
        iCalUId, or the series' one: the nearest at that time is it either way); a single
        meeting also by `$filter` on /events, which lists no occurrences. A series' master
        is never the answer: answering it would answer every occurrence."""
        if around is not None:
            nearby = await self._view(mailbox, around - _NEARBY, around + _NEARBY)
            same = [e for e in nearby if e.get("iCalUId") == ical_uid]
            if same:
                return min(same, key=lambda e: abs((_start(e) or around) - around))
        literal = ical_uid.replace("'", "''")
        condition = quote(f"iCalUId eq '{literal}'", safe="")
        path = f"/users/{quote(mailbox)}/events?$filter={condition}&$select={_FIELDS}"
        body = _checked(await self._graph.call("GET", path, mailbox=mailbox, headers=_UTC))
        events = [e for e in body.get("value") or [] if isinstance(e, dict) and e.get("id")]
        single = [e for e in events if e.get("type") == "singleInstance"]
        return single[0] if single else None


def _start(event: dict[str, Any]) -> datetime | None:
    return _time(event.get("start"))


def _checked(response: GraphResponse) -> dict[str, Any]:
    if response.ok:
        return response.body
    error = response.body.get("error")
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    if response.status == 403:
        raise CalendarRefused(CalendarProblem.DENIED, "no permission")
    if response.status == 404:
        raise CalendarRefused(CalendarProblem.MISSING, code or "not found")
    if code.startswith("ErrorCalendarIsCancelledFor"):
        raise CalendarRefused(CalendarProblem.CANCELLED, code)
    if is_passing_failure(response.status):
        raise CalendarRefused(CalendarProblem.PASSING, f"Graph {response.status or 'unreachable'}")
    raise CalendarRefused(CalendarProblem.REFUSED, code or f"Graph {response.status}")


def _utc(moment: datetime) -> str:
    return quote(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), safe="")


def _time(value: Any) -> datetime | None:
    """A Graph dateTimeTimeZone asked in UTC ("2026-12-08T10:00:00.0000000")."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    try:
        moment = datetime.fromisoformat(value["dateTime"][:26])
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _address(value: Any) -> tuple[str, str]:
    email = value.get("emailAddress") if isinstance(value, dict) else None
    if not isinstance(email, dict):
        return "", ""
    address = str(email.get("address") or "").strip().lower()
    return address, str(email.get("name") or address)


def _response(value: Any) -> MeetingResponse:
    raw = value.get("response") if isinstance(value, dict) else None
    try:
        return MeetingResponse(str(raw))
    except ValueError:
        return MeetingResponse.NONE  # "notResponded" and anything Graph adds later


def _meeting(event: Any) -> Meeting | None:
    if not isinstance(event, dict):
        return None
    start, end = _time(event.get("start")), _time(event.get("end"))
    ical_uid = str(event.get("iCalUId") or "")
    if start is None or end is None or not ical_uid:
        return None
    organizer, organizer_name = _address(event.get("organizer"))
    attendees = []
    for raw in event.get("attendees") or []:
        address, name = _address(raw)
        if address:
            resource = isinstance(raw, dict) and raw.get("type") == "resource"
            attendees.append(Attendee(address, name, resource, _response(raw.get("status"))))
    return Meeting(
        ical_uid=ical_uid,
        subject=str(event.get("subject") or ""),
        start=start,
        end=end,
        organizer=organizer,
        organizer_name=organizer_name,
        attendees=tuple(attendees),
        cancelled=bool(event.get("isCancelled", False)),
        is_organizer=bool(event.get("isOrganizer", False)),
    )
