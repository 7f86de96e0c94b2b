from tests.teams_world import TeamsWorld, card_text


async def test_relay(world: TeamsWorld) -> None:
    alice, bob = world.person("Alice"), world.person("Bob")
    assert await world.install(alice) == 200
    assert await world.install(bob) == 200
    assert "new <name>" in world.last_reply(alice)
    await world.say(alice, "new lunch: bob@contoso.com")
    assert world.last_reply(alice).startswith("Created lunch with Bob")
    await world.say(alice, "hello *there*")
    await world.wait_relayed(bob, 1)
    assert "hello *there*" in card_text(world.relayed(bob)[0])
    assert world.relayed(alice) == []
