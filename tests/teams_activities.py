"""A message as Teams sends it to Send in a 1:1 chat, as botbuilder's Activity: what the
tests of the reply path address their replies to."""

from __future__ import annotations

from botbuilder.schema import Activity, ChannelAccount, ConversationAccount


def inbound_message() -> Activity:
    return Activity(
        type="message",
        id="1:abc",
        channel_id="msteams",
        service_url="https://smba.trafficmanager.net/emea/",
        from_property=ChannelAccount(id="29:ann", name="Ann", aad_object_id="o-1"),
        recipient=ChannelAccount(id="28:send", name="Send"),
        conversation=ConversationAccount(
            id="a:1chat", conversation_type="personal", tenant_id="tenant-1"
        ),
        locale="fr-FR",
    )
