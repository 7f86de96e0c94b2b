"""Outlook calendars for the fake Graph, as strict as Exchange Online's.

`FakeGraph` mixes this in. Each person has their own copy of a meeting (its own `id`, one
`iCalUId` for all): the organizer's copy holds every attendee's response; an attendee's
copy holds their own (`responseStatus`) and the attendee list as it was sent. It speaks
Graph v1.0 (https://learn.microsoft.com/graph/api/resources/event):
- `GET /users/{mbx}/calendarView?startDateTime=&endDateTime=`: both required (else 400
  ErrorInvalidParameter "This request requires a time window specified by the query
  string parameters StartDateTime and EndDateTime."), ISO 8601 (an offset honoured, none
  read as UTC); the meetings overlapping the window, `$top` (1 to 1000, default 10) a
  page with `@odata.nextLink` (`$skip`), `$select` honoured; times in UTC
  (`Prefer: outlook.timezone` other than UTC is refused here: Send asks for UTC);
- `GET /users/{mbx}/events?$filter=iCalUId eq '...'` (any other `$filter` is a 400);
- `POST /users/{mbx}/events/{id}/accept | tentativelyAccept | decline` with `comment`
  and `sendResponse` (default true): 202 and no body; the attendee's copy takes the
  response and, when it is sent, so does the organizer's copy's attendee list (not sent:
  the organizer never learns it, as in Exchange). The organizer's own meeting: 400
  ErrorInvalidRequest "Your request can't be completed. You can't respond to this meeting
  because you're the meeting organizer."; a cancelled one: 400
  ErrorCalendarIsCancelledForAccept (…ForTentative, …ForDecline); an unknown id: 404
  ErrorItemNotFound "The specified object was not found in the store.";
- permissions: reading needs Calendars.Read, Calendars.ReadBasic or Calendars.ReadWrite,
  answering Calendars.ReadWrite (else 403 ErrorAccessDenied "Access is denied. Check
  credentials and try again."); with an application access policy (`calendar_policy`, the
  mailboxes Send may touch) any other mailbox is a 403 ErrorAccessDenied "Access to
  OData is disabled.".
Tests make meetings with `add_meeting`, change a person's answer as Outlook would with
`answer_in_outlook`, and move or cancel one with `move_meeting` and `cancel_meeting`.
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.graph import GraphUser

Json = dict[str, Any]
UTC = datetime.UTC

READ_ROLES = ("Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite")
WRITE_ROLES = ("Calendars.ReadWrite",)
_ACTIONS = {
    "accept": ("accepted", "ErrorCalendarIsCancelledForAccept"),
    "tentativelyAccept": ("tentativelyAccepted", "ErrorCalendarIsCancelledForTentative"),
    "decline": ("declined", "ErrorCalendarIsCancelledForDecline"),
}
_ICAL_FILTER = re.compile(r"^\s*iCalUId\s+eq\s+'((?:[^']|'')*)'\s*$")
_WINDOW = (
    "This request requires a time window specified by the query string parameters "
    "StartDateTime and EndDateTime."
)


def _moment(value: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise _error(400, "ErrorInvalidParameter", f"Invalid date: '{value}'.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _graph_time(moment: datetime.datetime) -> Json:
    return {
        "dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        "timeZone": "UTC",
    }


def _error(status: int, code: str, message: str) -> Exception:
    from tests.fakes.graph import GraphError

    return GraphError(status, code, message)


class Calendars:
    """The calendar half of `FakeGraph`."""

    if TYPE_CHECKING:
        users: dict[str, GraphUser]

        def _address(self, raw: str) -> str: ...
        def _mailbox_of(self, request: web.Request) -> str: ...
        @staticmethod
        def _need(request: web.Request, *roles: str) -> None: ...
        @staticmethod
        async def _body(request: web.Request) -> Json: ...

    def _init_calendar(self) -> None:
        # mailbox -> event id -> that person's copy of an event
        self.calendars: dict[str, dict[str, Json]] = {}
        # The mailboxes an Exchange application access policy lets Send touch (None: all).
        self.calendar_policy: set[str] | None = None
        self.responses_sent: list[tuple[str, str, str]] = []  # (mailbox, iCalUId, response)

    def _add_calendar_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v1.0/users/{mbx}/calendarView", self._calendar_view)
        r.add_get("/v1.0/users/{mbx}/events", self._events)
        for action in _ACTIONS:
            r.add_post(f"/v1.0/users/{{mbx}}/events/{{id}}/{action}", self._answer_meeting)

    # -- what tests do ---------------------------------------------------------------------

    def add_meeting(
        self,
        organizer: str,
        subject: str,
        start: datetime.datetime,
        attendees: list[tuple[str, str]],
        *,
        minutes: int = 30,
        rooms: list[tuple[str, str]] = (),  # type: ignore[assignment]
        organizer_name: str = "",
        weekly: int = 0,
    ) -> str:
        """A meeting `organizer` sends to `attendees` ((address, name) each) and `rooms`:
        a copy in the organizer's calendar and in every attendee's of the organisation
        (people from outside have no mailbox here). Its iCalUId. With `weekly`, a series
        of that many weekly occurrences: each copy has the series' master (listed by
        /events) and one copy per occurrence (listed by calendarView), each occurrence with
        an iCalUId of its own, as Graph v1.0 documents (`occurrences` lists them)."""
        ical_uid = "040000008200E00074C5B7101A82E008" + uuid.uuid4().hex.upper()
        end = start + datetime.timedelta(minutes=minutes)
        listed = [
            {"type": "required", "address": a.lower(), "name": n, "response": "none"}
            for a, n in attendees
        ] + [
            {"type": "resource", "address": a.lower(), "name": n, "response": "accepted"}
            for a, n in rooms
        ]
        base = {
            "iCalUId": ical_uid,
            "subject": subject,
            "start": start.astimezone(UTC),
            "end": end.astimezone(UTC),
            "isCancelled": False,
            "type": "singleInstance",
            "organizer": (organizer.lower(), organizer_name or organizer),
            "attendees": listed,
        }
        people = [(organizer, True)] + [
            (a, False) for a, _ in attendees if self._address(a) in self._known()
        ]
        for address, organizes in people:
            own = {"isOrganizer": organizes, "response": "organizer" if organizes else "none"}
            if not weekly:
                self._copy(address, {**base, **own})
                continue
            master = self._copy(address, {**base, **own, "type": "seriesMaster"})
            for n in range(weekly):
                moved = datetime.timedelta(weeks=n)
                self._copy(
                    address,
                    {
                        **base,
                        **own,
                        "type": "occurrence",
                        "seriesMasterId": master,
                        "iCalUId": f"{ical_uid}{n:04X}",
                        "start": start.astimezone(UTC) + moved,
                        "end": end.astimezone(UTC) + moved,
                    },
                )
        return ical_uid

    def occurrences(self, address: str, ical_uid: str) -> list[Json]:
        """`address`'s copies of a series' occurrences, in time order."""
        box = self.calendars.get(self._address(address), {}).values()
        found = [e for e in box if e["type"] == "occurrence" and e["iCalUId"].startswith(ical_uid)]
        return sorted(found, key=lambda e: e["start"])

    def answer_in_outlook(self, address: str, ical_uid: str, response: str) -> None:
        """`address` answers in Outlook (or Teams' calendar), sending the response."""
        copy = self.copy_of(address, ical_uid)
        self._set_response(self._address(address), copy, response, send=True)

    def move_meeting(self, ical_uid: str, start: datetime.datetime) -> None:
        """The organizer moves it: every copy has the new time (and keeps its length)."""
        for events in self.calendars.values():
            for event in events.values():
                if event["iCalUId"] == ical_uid:
                    length = event["end"] - event["start"]
                    event["start"], event["end"] = start, start + length

    def cancel_meeting(self, ical_uid: str) -> None:
        for events in self.calendars.values():
            for event in events.values():
                if event["iCalUId"] == ical_uid:
                    event["isCancelled"] = True

    def copy_of(self, address: str, ical_uid: str) -> Json:
        box = self.calendars.get(self._address(address), {})
        found = [e for e in box.values() if e["iCalUId"] == ical_uid]
        if not found:
            raise KeyError(f"{address} has no copy of {ical_uid}")
        return found[0]

    def response_of(self, address: str, ical_uid: str, *, seen_by: str) -> str:
        """`address`'s response as `seen_by`'s copy has it (the organizer's is the tally)."""
        copy = self.copy_of(seen_by, ical_uid)
        if self._address(address) == self._address(seen_by):
            return str(copy["response"])
        listed = next(a for a in copy["attendees"] if a["address"] == address.lower())
        return str(listed["response"])

    # -- the protocol ------------------------------------------------------------------------

    def _known(self) -> set[str]:
        return {u.mail.lower() for u in self.users.values()}

    def _copy(self, address: str, fields: Json) -> str:
        event_id = "AAMkAG" + uuid.uuid4().hex
        events = self.calendars.setdefault(self._address(address), {})
        # Each copy has its own attendee list (what it was sent), not the organizer's.
        listed = [dict(a) for a in fields["attendees"]]
        events[event_id] = {**fields, "id": event_id, "attendees": listed}
        return event_id

    def _mailbox(self, request: web.Request, *roles: str) -> str:
        self._need(request, *roles)
        mailbox = self._mailbox_of(request)
        if self.calendar_policy is not None and mailbox not in self.calendar_policy:
            raise _error(403, "ErrorAccessDenied", "Access to OData is disabled.")
        return mailbox

    @staticmethod
    def _shown(event: Json, select: str) -> Json:
        organizer, organizer_name = event["organizer"]
        full = {
            "id": event["id"],
            "iCalUId": event["iCalUId"],
            "subject": event["subject"],
            "start": _graph_time(event["start"]),
            "end": _graph_time(event["end"]),
            "isCancelled": event["isCancelled"],
            "isOrganizer": event["isOrganizer"],
            "type": event["type"],
            "responseStatus": {"response": event["response"], "time": "0001-01-01T00:00:00Z"},
            "organizer": {"emailAddress": {"name": organizer_name, "address": organizer}},
            "attendees": [
                {
                    "type": a["type"],
                    "status": {"response": a["response"], "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {"name": a["name"], "address": a["address"]},
                }
                for a in event["attendees"]
            ],
        }
        if not select:
            return full
        wanted = {s.strip() for s in select.split(",")}
        return {k: v for k, v in full.items() if k in wanted or k == "id"}

    @staticmethod
    def _utc_only(request: web.Request) -> None:
        prefer = request.headers.get("Prefer", "")
        zone = re.search(r'outlook\.timezone="([^"]*)"', prefer)
        if zone is not None and zone.group(1) != "UTC":
            raise _error(400, "ErrorInvalidRequest", "Only UTC is served by this fake.")

    async def _calendar_view(self, request: web.Request) -> web.Response:
        mailbox = self._mailbox(request, *READ_ROLES)
        self._utc_only(request)
        query = request.query
        if "startDateTime" not in query or "endDateTime" not in query:
            raise _error(400, "ErrorInvalidParameter", _WINDOW)
        start, end = _moment(query["startDateTime"]), _moment(query["endDateTime"])
        top = int(query.get("$top", "10"))
        skip = int(query.get("$skip", "0"))
        if not 1 <= top <= 1000:
            raise _error(400, "ErrorInvalidParameter", "The value of $top must be 1 to 1000.")
        events = sorted(
            (
                e
                for e in self.calendars.get(mailbox, {}).values()
                if e["type"] != "seriesMaster" and e["start"] < end and e["end"] > start
            ),
            key=lambda e: (e["start"], e["id"]),
        )
        page = events[skip : skip + top]
        body: Json = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('{mailbox}')/calendarView",
            "value": [self._shown(e, query.get("$select", "")) for e in page],
        }
        if skip + top < len(events):
            following = {**query, "$skip": str(skip + top)}
            body["@odata.nextLink"] = f"{request.url.origin()}{request.path}?{urlencode(following)}"
        return web.json_response(body)

    async def _events(self, request: web.Request) -> web.Response:
        mailbox = self._mailbox(request, *READ_ROLES)
        self._utc_only(request)
        condition = request.query.get("$filter", "")
        match = _ICAL_FILTER.match(condition)
        if match is None:
            raise _error(
                400,
                "ErrorInvalidUrlQueryFilter",
                "The query filter contains one or more invalid nodes.",
            )
        ical_uid = match.group(1).replace("''", "'")
        # /events lists single meetings and series' masters, never occurrences.
        found = [
            e
            for e in self.calendars.get(mailbox, {}).values()
            if e["iCalUId"] == ical_uid and e["type"] != "occurrence"
        ]
        select = request.query.get("$select", "")
        return web.json_response({"value": [self._shown(e, select) for e in found]})

    async def _answer_meeting(self, request: web.Request) -> web.Response:
        mailbox = self._mailbox(request, *WRITE_ROLES)
        action = request.path.rsplit("/", 1)[1]
        response, cancelled_code = _ACTIONS[action]
        event = self.calendars.get(mailbox, {}).get(request.match_info["id"])
        if event is None:
            raise _error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        body = await self._body(request)
        send = body.get("sendResponse", True)
        if not isinstance(send, bool) or not isinstance(body.get("comment", ""), str):
            raise _error(400, "ErrorInvalidRequest", "Invalid request body.")
        if event["isOrganizer"]:
            raise _error(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. You can't respond to this meeting because "
                "you're the meeting organizer.",
            )
        if event["isCancelled"]:
            raise _error(400, cancelled_code, "This meeting has been canceled.")
        self._set_response(mailbox, event, response, send=send)
        return web.Response(status=202)

    def _set_response(self, mailbox: str, event: Json, response: str, *, send: bool) -> None:
        event["response"] = response
        if response == "declined":
            # As Outlook's Decline: the meeting leaves the attendee's calendar.
            self.calendars.get(mailbox, {}).pop(event["id"], None)
        if not send:
            return  # the organizer is not told: their copy keeps the old answer
        self.responses_sent.append((mailbox, event["iCalUId"], response))
        organizer = event["organizer"][0]
        try:
            theirs = self.copy_of(organizer, event["iCalUId"])
        except KeyError:
            return  # an organizer from outside: the response went by mail
        for attendee in theirs["attendees"]:
            if attendee["address"] == mailbox:
                attendee["response"] = response
