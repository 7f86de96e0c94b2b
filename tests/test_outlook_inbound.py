"""Reply All in Outlook reaches the group in Teams (Graph subscription, notifications, delta)."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from bot.store.repository import DocumentStore
from bot.store.sqlite_documents import SqliteDocuments
from bot.web.app import create_app
from tests.conftest import FAST_TUNING, OUTLOOK_SENDER, Inbound, serve, settings_for
from tests.fakes.connector import TeamsPerson
from tests.fakes.graph import FakeGraph
from tests.logged import logged
from tests.outlook_helpers import eventually
from tests.services import free_port
from tests.teams_world import card_text

SENDER = OUTLOOK_SENDER


async def start_thread(scene: Inbound) -> None:
    world, graph = scene.world, scene.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, cy@contoso.com")
    await world.say(ann, "Pizza at 12?")
    await eventually(lambda: len(graph.mailbox("cy@contoso.com")) == 1, "the first mail")


async def test_subscription_is_validated_and_scoped_to_the_inbox(inbound: Inbound) -> None:
    (subscription,) = inbound.graph.subscriptions.values()
    assert subscription.mailbox == SENDER
    assert subscription.notification_url == f"{inbound.url}/api/outlook/notifications"
    assert "created" in subscription.change_type
    assert subscription.lifecycle_notification_url == subscription.notification_url
    assert inbound.graph.validations == 2  # the notification and the lifecycle endpoint


async def test_reply_all_reaches_teams_once(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    ann, bob = world.person("Ann"), world.person("Bob")
    original = graph.mailbox("cy@contoso.com")[0]
    await graph.user_reply_all(
        "cy@contoso.com", original["id"], "<p>Count me <b>in</b> &amp; Dee</p>"
    )
    await world.wait_relayed(ann, 1)
    await world.wait_relayed(bob, 1)
    shown = card_text(world.relayed(ann)[0])
    assert shown.startswith("Cy ") and "Count me in & Dee" in shown
    assert "Pizza at 12?" not in shown  # the quoted mail is not part of the answer
    # Its recipients already have it: no extra mail from Send for it.
    await eventually(lambda: len(graph.mailbox(ann.email)) == 2, "Cy's reply in Ann's inbox")
    assert [m["from"]["emailAddress"]["address"] for m in graph.mailbox(ann.email)] == [
        SENDER,
        "cy@contoso.com",
    ]
    await world.say(ann, "history")
    assert "Cy: Count me in & Dee" in world.last_reply(ann)
    assert all(n.status == 202 for n in graph.notifications_sent)


async def test_mail_outside_the_thread_or_from_strangers_is_ignored(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    ann = world.person("Ann")
    await graph.user_send("eve@contoso.com", [SENDER], "[Send] Lunch", "<p>let me in</p>")
    original = graph.mailbox("cy@contoso.com")[0]
    await world.say(ann, "remove lunch: cy@contoso.com")
    await graph.user_reply_all("cy@contoso.com", original["id"], "<p>removed but replying</p>")
    await eventually(lambda: len(graph.notifications_sent) >= 2, "notifications")
    await world.say(ann, "history")
    history = world.last_reply(ann)
    assert "let me in" not in history and "removed but replying" not in history
    assert world.relayed(ann) == []


async def test_missed_notifications_are_caught_up_at_start(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    graph.notifications_enabled = False
    original = graph.mailbox("bob@contoso.com")[0]
    await graph.user_reply_all("bob@contoso.com", original["id"], "<p>while nobody listened</p>")
    ann = world.person("Ann")
    # The same app restarted: its first act is a delta query from the saved link.
    port = free_port()
    settings = settings_for(inbound.settings.data_dir, graph.entra, graph, port)
    async with serve(create_app(settings, tuning=FAST_TUNING), port):
        await world.wait_relayed(ann, 1)
    assert "while nobody listened" in card_text(world.relayed(ann)[0])


async def test_notification_endpoint_checks(inbound: Inbound) -> None:
    url = f"{inbound.url}/api/outlook/notifications"
    async with aiohttp.ClientSession() as session:
        token = "Validation: Testing client application reachability"
        async with session.post(url, params={"validationToken": token}) as r:
            assert (r.status, await r.text(), r.content_type) == (200, token, "text/plain")
        forged = {"value": [{"clientState": "guess", "changeType": "created", "resource": "x"}]}
        async with session.post(url, json=forged) as r:
            assert r.status == 403
        async with session.post(
            url, data=b"not json", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400


async def test_a_too_long_reply_is_refused_with_an_explanation(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    ann, bob = world.person("Ann"), world.person("Bob")
    original = graph.mailbox(bob.email)[0]
    await graph.user_reply_all(bob.email, original["id"], "<p>" + "x" * 2001 + "</p>")
    await world.connector.wait_for(lambda: any("not relayed" in t for t in world.replies(bob)))
    assert world.last_reply(bob) == (
        "Your Outlook reply to Lunch was not relayed to Teams. "
        "Your message has 2001 characters; the limit is 2000. Nothing was sent."
    )
    assert world.relayed(ann) == []


# Who may speak for a group by mail: a member, as themselves, from inside.

# Dee is a member Send knows from Teams, at a domain that is not the Graph tenant's.
DEE = TeamsPerson("29:dee", "Dee", "dee@fabrikam.com", "aad-dee")
NO_VERDICT = (
    "spf=none (sender IP is 198.51.100.9) smtp.mailfrom=fabrikam.com; dkim=none (message not "
    "signed) header.d=none;dmarc=none action=none header.from=fabrikam.com;compauth=none reason=905"
)
SPOOFED_CY = (
    "spf=fail (sender IP is 198.51.100.9) smtp.mailfrom=contoso.com; dkim=none (message not "
    "signed) header.d=none;dmarc=fail action=quarantine header.from=contoso.com;compauth=fail "
    "reason=000"
)


async def start_thread_with_dee(scene: Inbound) -> None:
    world, graph = scene.world, scene.graph
    ann = world.person("Ann")
    world.connector.add_person(DEE)
    for person in (ann, world.person("Bob"), DEE):
        await world.install(person)
    await world.say(ann, "new Lunch: bob@contoso.com, cy@contoso.com, dee@fabrikam.com")
    await world.say(ann, "Pizza at 12?")
    await eventually(lambda: len(graph.mailbox(DEE.email)) == 1, "the first mail")


def first_mail(graph: FakeGraph, address: str) -> str:
    return str(graph.mailbox(address)[0]["id"])


async def relayed_texts_after(scene: Inbound, genuine: str) -> list[str]:
    """Sends one genuine reply from Bob last, waits for it, and returns every relayed text:
    mails are read in arrival order, so the ones before it have been judged by then."""
    world, graph = scene.world, scene.graph
    ann = world.person("Ann")
    await graph.user_reply_all(
        "bob@contoso.com", first_mail(graph, "bob@contoso.com"), f"<p>{genuine}</p>"
    )
    await world.connector.wait_for(
        lambda: any(genuine in card_text(c) for c in world.relayed(ann)), what="Bob's reply"
    )
    return [card_text(c) for c in world.relayed(ann)]


async def test_a_reply_sent_on_behalf_of_a_member_is_not_relayed(inbound: Inbound) -> None:
    await start_thread(inbound)
    graph = inbound.graph
    # Eve, a delegate of Cy's mailbox (or anyone writing `from: cy`), sends as Cy.
    await graph.user_reply_all(
        "cy@contoso.com",
        first_mail(graph, "cy@contoso.com"),
        "<p>Cy agrees</p>",
        sender="eve@contoso.com",
    )
    texts = await relayed_texts_after(inbound, "genuine")
    assert len(texts) == 1 and "genuine" in texts[0]


async def test_mail_from_outside_the_organisation_is_not_relayed(inbound: Inbound) -> None:
    await start_thread_with_dee(inbound)
    graph = inbound.graph
    dee_thread = first_mail(graph, DEE.email)
    # Not authenticated for fabrikam.com, and Dee is no user of the Graph directory.
    await graph.user_reply_all(DEE.email, dee_thread, "<p>unproven</p>", authentication=NO_VERDICT)
    # The sending program wrote a passing result of its own under Exchange's.
    forged = [("Authentication-Results", "dmarc=pass action=none header.from=fabrikam.com")]
    await graph.user_reply_all(
        DEE.email, dee_thread, "<p>forged</p>", authentication=NO_VERDICT, written_headers=forged
    )
    # From the internet as Cy, a directory user: Exchange says DMARC failed.
    await graph.user_reply_all(
        "cy@contoso.com",
        first_mail(graph, "cy@contoso.com"),
        "<p>spoofed</p>",
        authentication=SPOOFED_CY,
    )
    # Dee's own domain passes DMARC (the fake's default for mail from outside): relayed.
    await graph.user_reply_all(DEE.email, dee_thread, "<p>Dee, authenticated</p>")
    texts = await relayed_texts_after(inbound, "genuine")
    assert len(texts) == 2, texts
    assert "Dee, authenticated" in texts[0] and "genuine" in texts[1]
    # Asked for the headers, as Graph returns them only when selected.
    reads = [c.path for c in graph.calls if "internetMessageHeaders" in c.path]
    assert len(reads) == 5 and all(c.method == "GET" for c in graph.calls if c.path in reads)


def spoofed_bob(compauth: str, dmarc: str = "none", spf: str = "none") -> str:
    return (
        f"spf={spf} (sender IP is 198.51.100.9) smtp.mailfrom=contoso.com; dkim=none (message "
        f"not signed) header.d=none;dmarc={dmarc} action=none header.from=contoso.com;"
        f"compauth={compauth}"
    )


async def test_a_mail_exchange_does_not_vouch_for_is_not_relayed_and_its_member_hears_once(
    inbound: Inbound,
) -> None:
    """From the internet as Bob, a member and a directory user: softpass, none (reason 905)
    and temperror are not Exchange vouching for it. Bob hears of it once in Teams."""
    await start_thread(inbound)
    world, graph = inbound.world, inbound.graph
    bob = world.person("Bob")
    thread = first_mail(graph, "bob@contoso.com")
    for verdict in (
        spoofed_bob("softpass reason=201"),
        spoofed_bob("none reason=905"),
        spoofed_bob("none reason=905", dmarc="temperror", spf="temperror"),
    ):
        await graph.user_reply_all(
            "bob@contoso.com", thread, "<p>wire the money</p>", authentication=verdict
        )
    # Writing Exchange's own header into the mail does not make it internal.
    await graph.user_reply_all(
        "bob@contoso.com",
        thread,
        "<p>trust me</p>",
        authentication=spoofed_bob("softpass reason=201"),
        written_headers=[("X-MS-Exchange-Organization-AuthAs", "Internal")],
    )
    texts = await relayed_texts_after(inbound, "genuine")
    assert len(texts) == 1 and "genuine" in texts[0]
    notices = [t for t in world.replies(bob) if "bearing your address" in t]
    assert notices == [
        "A mail to Lunch bearing your address was not relayed: your organisation's Exchange "
        "could not confirm it came from you. If you wrote it, write it again in Teams or from "
        "your work Outlook."
    ]


async def post_notification(scene: Inbound, item: Mapping[str, object]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{scene.url}/api/outlook/notifications", json={"value": [item]}) as r,
    ):
        return r.status


async def test_a_notification_for_another_subscription_is_refused(inbound: Inbound) -> None:
    (subscription,) = inbound.graph.subscriptions.values()
    ours = {"clientState": subscription.client_state, "tenantId": subscription.tenant_id}
    change = {**ours, "changeType": "created", "resource": "Users/x/Messages/y"}
    lifecycle = {**ours, "lifecycleEvent": "subscriptionRemoved"}
    with logged("send") as records:
        for item in (change, lifecycle):
            forged = {**item, "subscriptionId": "someone-elses"}
            assert await post_notification(inbound, forged) == 403
            assert await post_notification(inbound, item) == 403  # no subscription id at all
        ours_now = {**change, "subscriptionId": subscription.id}
        assert await post_notification(inbound, ours_now) == 202
        # Forged ones are counted, one INFO line a minute at most, never a WARNING each.
        for _ in range(20):
            assert await post_notification(inbound, {**change, "subscriptionId": "forged"}) == 403
    foreign = [r for r in records if "not for this service" in r.getMessage()]
    assert [r.levelname for r in foreign] == ["INFO"]
    # The foreign subscriptionRemoved was ignored: Send's subscription was not made again.
    assert list(inbound.graph.subscriptions) == [subscription.id]
    assert subscription.renewals == 0


async def test_reauthorization_required_renews_the_subscription(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    (subscription,) = graph.subscriptions.values()
    expires = subscription.expires
    sent = await graph.lifecycle(subscription.id, "reauthorizationRequired")
    assert sent.status == 202
    await eventually(lambda: not subscription.reauthorization_required, "the renewal")
    assert subscription.renewals == 1 and subscription.expires > expires
    # Notifications flow again.
    await start_thread(inbound)
    await graph.user_reply_all("bob@contoso.com", first_mail(graph, "bob@contoso.com"), "<p>ok</p>")
    await world.wait_relayed(world.person("Ann"), 1)


async def test_a_removed_subscription_is_made_again(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    (old,) = graph.subscriptions
    assert (await graph.lifecycle(old, "subscriptionRemoved")).status == 202
    await eventually(lambda: len(graph.subscriptions) == 1, "a new subscription")
    (new,) = graph.subscriptions
    assert new != old
    await start_thread(inbound)
    await graph.user_reply_all("bob@contoso.com", first_mail(graph, "bob@contoso.com"), "<p>ok</p>")
    await world.wait_relayed(world.person("Ann"), 1)
    assert any(n.subscription_id == new and n.status == 202 for n in graph.notifications_sent)


async def test_missed_notifications_run_the_catch_up(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    await start_thread(inbound)
    graph.notifications_enabled = False
    await graph.user_reply_all(
        "bob@contoso.com", first_mail(graph, "bob@contoso.com"), "<p>lost</p>"
    )
    (subscription,) = graph.subscriptions
    assert (await graph.lifecycle(subscription, "missed")).status == 202
    await world.wait_relayed(world.person("Ann"), 1)
    assert "lost" in card_text(world.relayed(world.person("Ann"))[0])


async def test_a_subscription_without_lifecycle_notifications_is_replaced(
    inbound: Inbound,
) -> None:
    """Graph cannot add a lifecycleNotificationUrl to a subscription made without one."""
    graph = inbound.graph
    (made_before,) = graph.subscriptions.values()
    made_before.lifecycle_notification_url = None
    documents = SqliteDocuments(inbound.settings.data_dir / "send.sqlite3")
    await documents.open()
    try:
        await DocumentStore(documents).put_state(
            f"graph-subscription:{SENDER}", {"id": made_before.id}
        )
    finally:
        await documents.close()
    port = free_port()
    settings = settings_for(inbound.settings.data_dir, graph.entra, graph, port)
    async with serve(create_app(settings, tuning=FAST_TUNING), port):
        await eventually(lambda: made_before.id not in graph.subscriptions, "the old one deleted")
        await eventually(lambda: len(graph.subscriptions) == 1, "a new subscription")
    (made_now,) = graph.subscriptions.values()
    assert made_now.lifecycle_notification_url is not None
