"""Bot Framework `Storage` over our store, checked with botbuilder's own storage expectations.

The checks follow `botbuilder.testing.StorageBaseTests` (botbuilder-python, MIT),
which cannot be installed beside azure-cosmos 4 (it pins botbuilder-azure).
"""

from __future__ import annotations

from typing import Any

import pytest
from botbuilder.core import ConversationState, MessageFactory, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.dialogs import (
    DialogSet,
    DialogTurnStatus,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)

from bot.store.bot_state import BotStateConflict, DocumentBotStorage
from bot.store.documents import Documents

pytestmark = pytest.mark.both_stores


@pytest.fixture
def storage(documents: Documents) -> DocumentBotStorage:
    return DocumentBotStorage(documents)


async def test_unknown_key_reads_as_empty(storage: DocumentBotStorage) -> None:
    assert await storage.read(["unknown"]) == {}


async def test_null_keys_and_changes(storage: DocumentBotStorage) -> None:
    with pytest.raises(TypeError, match="Keys are required when reading"):
        await storage.read(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Changes are required when writing"):
        await storage.write(None)  # type: ignore[arg-type]
    await storage.write({})


async def test_create_object(storage: DocumentBotStorage) -> None:
    items = {"createPoco": {"id": 1}, "createPocoStoreItem": {"id": 2, "e_tag": "*"}}
    await storage.write(items)
    read = await storage.read(list(items))
    assert read["createPoco"]["id"] == 1
    assert read["createPocoStoreItem"]["id"] == 2
    assert read["createPocoStoreItem"]["e_tag"]


async def test_crazy_keys(storage: DocumentBotStorage) -> None:
    key = '!@#$%^&*()_+??><":QASD~`'
    await storage.write({key: {"id": 1}})
    assert (await storage.read([key]))[key]["id"] == 1


async def test_update_object_with_etags(storage: DocumentBotStorage) -> None:
    await storage.write(
        {"pocoItem": {"id": 1, "count": 1}, "pocoStoreItem": {"id": 1, "count": 1, "e_tag": "*"}}
    )
    loaded = await storage.read(["pocoItem", "pocoStoreItem"])
    poco, store_item = loaded["pocoItem"], loaded["pocoStoreItem"]
    poco["e_tag"] = None
    stale_etag = store_item["e_tag"]
    poco["count"] += 1
    store_item["count"] += 1
    await storage.write(loaded)
    reloaded = await storage.read(["pocoItem", "pocoStoreItem"])
    assert reloaded["pocoItem"]["count"] == 2 and reloaded["pocoStoreItem"]["count"] == 2

    # A write with an old e_tag fails and changes nothing (MemoryStorage raises KeyError).
    with pytest.raises(KeyError):
        await storage.write({"pocoStoreItem": {"id": 1, "count": 123, "e_tag": stale_etag}})
    assert (await storage.read(["pocoStoreItem"]))["pocoStoreItem"]["count"] == 2

    # "*" always wins; an empty e_tag is refused.
    await storage.write({"pocoStoreItem": {"id": 1, "count": 100, "e_tag": "*"}})
    current = (await storage.read(["pocoStoreItem"]))["pocoStoreItem"]
    assert current["count"] == 100
    current["e_tag"] = ""
    with pytest.raises(ValueError, match="e_tag"):
        await storage.write({"pocoStoreItem": current})
    assert (await storage.read(["pocoStoreItem"]))["pocoStoreItem"]["count"] == 100


async def test_conflict_is_a_key_error_like_memory_storage() -> None:
    assert issubclass(BotStateConflict, KeyError)


async def test_delete(storage: DocumentBotStorage) -> None:
    await storage.write({"delete1": {"id": 1, "count": 1, "e_tag": "*"}})
    assert (await storage.read(["delete1"]))["delete1"]["count"] == 1
    await storage.delete(["delete1"])
    assert await storage.read(["delete1"]) == {}
    await storage.delete(["unknown_key"])


async def test_batch_operations(storage: DocumentBotStorage) -> None:
    await storage.write({"b1": {"count": 10}, "b2": {"count": 20}, "b3": {"count": 30}})
    result = await storage.read(["b1", "b2", "b3"])
    assert [result[k]["count"] for k in ("b1", "b2", "b3")] == [10, 20, 30]
    await storage.delete(["b1", "b2", "b3"])
    assert await storage.read(["b1", "b2", "b3"]) == {}


async def test_dialog_state_survives_between_turns(storage: DocumentBotStorage) -> None:
    """A waterfall with a validated prompt, state saved in our storage between turns."""
    conversation_state = ConversationState(storage)
    dialogs = DialogSet(conversation_state.create_property("dialogState"))

    async def validator(prompt: PromptValidatorContext) -> bool:
        value = prompt.recognized.value or ""
        if len(value) <= 3:
            await prompt.context.send_activity(
                "Please send a name that is longer than 3 characters."
            )
            return False
        return True

    async def ask(step: WaterfallStepContext) -> Any:
        return await step.prompt(
            "text", PromptOptions(prompt=MessageFactory.text("Please send a name."))
        )

    async def done(step: WaterfallStepContext) -> Any:
        await step.context.send_activity(f"Got {step.result}")
        return await step.end_dialog()

    dialogs.add(TextPrompt("text", validator))
    dialogs.add(WaterfallDialog("waterfall", [ask, done]))

    async def turn(context: TurnContext) -> None:
        dc = await dialogs.create_context(context)
        result = await dc.continue_dialog()
        if result.status == DialogTurnStatus.Empty:
            await dc.begin_dialog("waterfall")
        await conversation_state.save_changes(context)

    adapter = TestAdapter(turn)
    step = await adapter.send("hello")
    step = await step.assert_reply("Please send a name.")
    step = await step.send("hi")
    step = await step.assert_reply("Please send a name that is longer than 3 characters.")
    step = await step.send("Kieran")
    await step.assert_reply("Got Kieran")
