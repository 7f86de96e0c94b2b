"""`new` with no arguments: a dialog asks for the name, then the members, then confirms.

Each answer is checked where it is given, by the same core rules as a typed `new`,
and asked again with the reason; `cancel` (decided by the core) leaves the dialog
with nothing created.
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import MessageFactory
from botbuilder.dialogs import (
    Dialog,
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import (
    ConfirmPrompt,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
)

from bot.core.errors import Refused
from bot.core.membership.addresses import Mention, parse_members
from bot.core.membership.groups import Groups, check_member_list, check_name
from bot.core.model import Person
from bot.core.texts import say
from bot.teams.activity import command_text, mentions_of

NEW_GROUP_DIALOG = "new-group"
PERSON_KEY = "send.person"  # turn_state key where the bot leaves the sender's Person
_NAME_PROMPT = "new-group.name"
_MEMBERS_PROMPT = "new-group.members"
_CONFIRM_PROMPT = "new-group.confirm"


def _person(step: WaterfallStepContext | PromptValidatorContext) -> Person:
    person = step.context.turn_state.get(PERSON_KEY)
    if not isinstance(person, Person):
        raise TypeError("the bot did not put the sender on the turn")
    return person


def new_group_dialog(groups: Groups) -> list[Dialog]:
    async def name_valid(prompt: PromptValidatorContext) -> bool:
        try:
            await groups.check_new_name(_person(prompt), prompt.recognized.value or "")
        except Refused as refusal:
            lang = _person(prompt).language
            prompt.options.retry_prompt = MessageFactory.text(
                say(lang, "dialog.name_again", reason=refusal.say(lang))
            )
            return False
        return True

    async def members_valid(prompt: PromptValidatorContext) -> bool:
        activity = prompt.context.activity
        members = parse_members(command_text(activity), _mentions(activity))
        try:
            check_member_list(_person(prompt), members)
        except Refused as refusal:
            lang = _person(prompt).language
            prompt.options.retry_prompt = MessageFactory.text(
                say(lang, "dialog.members_again", reason=refusal.say(lang))
            )
            return False
        return True

    async def ask_name(step: WaterfallStepContext) -> DialogTurnResult:
        given = str((step.options or {}).get("name", "")).strip()
        lang = _person(step).language
        if given:
            try:
                return await step.next(await groups.check_new_name(_person(step), given))
            except Refused as refusal:
                await step.context.send_activity(refusal.say(lang))
        return await step.prompt(
            _NAME_PROMPT,
            PromptOptions(prompt=MessageFactory.text(say(lang, "dialog.ask_name"))),
        )

    async def ask_members(step: WaterfallStepContext) -> DialogTurnResult:
        step.values["name"] = check_name(str(step.result))
        return await step.prompt(
            _MEMBERS_PROMPT,
            PromptOptions(
                prompt=MessageFactory.text(
                    say(_person(step).language, "dialog.ask_members", group=step.values["name"])
                )
            ),
        )

    async def confirm(step: WaterfallStepContext) -> DialogTurnResult:
        activity = step.context.activity
        step.values["members"] = command_text(activity)
        step.values["mentions"] = [
            [m.teams_user_id, m.display_name, m.service_url, m.bot_id] for m in _mentions(activity)
        ]
        members = parse_members(step.values["members"], _mentions(activity))
        who = ", ".join([*members.addresses, *(m.display_name for m in members.mentions)])
        return await step.prompt(
            _CONFIRM_PROMPT,
            PromptOptions(
                prompt=MessageFactory.text(
                    say(
                        _person(step).language, "dialog.confirm", group=step.values["name"], who=who
                    )
                )
            ),
        )

    async def create(step: WaterfallStepContext) -> DialogTurnResult:
        if not step.result:
            await step.context.send_activity(say(_person(step).language, "dialog.not_created"))
            return await step.end_dialog()
        mentions = tuple(
            Mention(u, n, service_url=url, bot_id=bot)
            for u, n, url, bot in step.values.get("mentions", [])
        )
        members = parse_members(str(step.values["members"]), mentions)
        try:
            created = await groups.create(_person(step), str(step.values["name"]), members)
            text = created.text
        except Refused as refusal:
            text = refusal.say(_person(step).language)
        await step.context.send_activity(MessageFactory.text(text))
        return await step.end_dialog()

    return [
        WaterfallDialog(NEW_GROUP_DIALOG, [ask_name, ask_members, confirm, create]),
        TextPrompt(_NAME_PROMPT, name_valid),
        TextPrompt(_MEMBERS_PROMPT, members_valid),
        ConfirmPrompt(_CONFIRM_PROMPT),
    ]


def _mentions(activity: Any) -> tuple[Mention, ...]:
    bot_id = activity.recipient.id if activity.recipient else ""
    return tuple(
        Mention(m.user_id, m.display_name, service_url=activity.service_url or "", bot_id=bot_id)
        for m in mentions_of(activity)
    )
