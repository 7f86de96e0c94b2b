"""English: every text Send shows, by key (see `bot.core.texts`)."""

from __future__ import annotations

TEXTS: dict[str, str | tuple[str, str]] = {
    # words and plurals
    "list.and": "{first} and {last}",
    "n.member": ("{count} member", "{count} members"),
    "n.person": ("{count} person", "{count} people"),
    "n.message": ("{count} message", "{count} messages"),
    "n.time": ("{count} time", "{count} times"),
    "a_former_member": "a former member",
    "nobody": "nobody",
    "nobody_yet": "nobody yet",
    "unknown": "unknown",
    # dates: "Tue 1 Dec 10:00"
    "date.day": "{weekday} {day} {month} {time}",
    "date.year": "{weekday} {day} {month} {year} {time}",
    "date.mail": "{weekday} {day} {month}, {time}",
    "date.utc": "{time} UTC",
    "day.0": "Mon",
    "day.1": "Tue",
    "day.2": "Wed",
    "day.3": "Thu",
    "day.4": "Fri",
    "day.5": "Sat",
    "day.6": "Sun",
    "month.1": "Jan",
    "month.2": "Feb",
    "month.3": "Mar",
    "month.4": "Apr",
    "month.5": "May",
    "month.6": "Jun",
    "month.7": "Jul",
    "month.8": "Aug",
    "month.9": "Sep",
    "month.10": "Oct",
    "month.11": "Nov",
    "month.12": "Dec",
    # the chat
    "tenant.not_allowed": "Send is not enabled for your organisation.",
    "tenant.personal": (
        "Send is for work and school accounts; personal Microsoft accounts cannot use it."
    ),
    "welcome": (
        "Hi, I am Send. Make a group with new <name>: <colleagues' e-mail addresses>, "
        "then type: every member gets your message in Teams and Outlook. "
        "Type help for all commands."
    ),
    "group_chat_intro": (
        "Hello, I'm Send. Type @Send new <name> here to make a Send group of everyone in "
        "this chat; then each of you writes to it from your own chat with Send, and every "
        "message reaches the others in Teams and in one Outlook thread."
    ),
    "group_chat_help": (
        "In a group chat I only make groups: @mention me with new <name> to make a Send group "
        "of this chat's members. Everything else happens in your 1:1 chat with me."
    ),
    "cancelled": "Cancelled; no group was created.",
    "sent_now_active": "Sent to {group}, now your active group.",
    "type_something": "Type a message, or help for the list of commands.",
    "no_groups_not_sent": (
        "You have no groups yet, so this was not sent. "
        "Create one with new <name>: <members>, or type help."
    ),
    "which_group_pick": "Which group is this for? Pick one; nothing was sent yet.",
    "write_it_as": "Write it as {usage}.",
    "type_help": "Type help for the list of commands.",
    # words that start with a command word but are no command: a sentence, offered to send
    "sentence.offer": (
        "“{typed}” is not a command you can use ({why}). Send it to {group} as a message?"
    ),
    "sentence.pick": (
        "“{typed}” is not a command you can use ({why}). Send it as a message? "
        "Pick a group; nothing was sent yet."
    ),
    "sentence.no_group": "you have no group called “{name}”",
    "sentence.takes_nothing": "{word} takes nothing after it",
    "sentence.type_alone": "Type {word} alone, with nothing after it.",
    "sentence.write_it_as": "write it as {usage}",
    # help
    "help.intro": "Send relays your messages to a group of colleagues in Teams and Outlook.",
    "help.line": "- {usage} — {help}",
    "usage.new": "new <name>: <members>",
    "help.new": (
        'create a group (addresses or @mentions; up to 20 people). Just "new" asks step by step'
    ),
    "usage.groups": "groups",
    "help.groups": "your groups, and which one is active",
    "usage.use": "use <group>",
    "help.use": "make a group active; anything else you type goes to it",
    "usage.to": "to <group>: <text>",
    "help.to": "send to a group without changing the active one",
    "usage.members": "members [<group>]",
    "help.members": "who is in a group and how they get messages",
    "usage.add": "add <group>: <members>",
    "help.add": "add people (owner only)",
    "usage.remove": "remove <group>: <member>",
    "help.remove": "remove someone (owner only)",
    "usage.rename": "rename <group>: <new name>",
    "help.rename": "rename (owner only)",
    "usage.leave": "leave <group>",
    "help.leave": "leave a group",
    "usage.delete": "delete <group>",
    "help.delete": "delete a group (owner only)",
    "usage.history": "history [<group>]",
    "help.history": "the last 10 messages",
    "usage.poll": "poll <group>: <question> | <option> | <option> …",
    "help.poll": "ask with 2 to 6 answers; everyone answers with one tap and sees the tally",
    "usage.status": "status [<group>]",
    "help.status": "what became of your last message: who has it, what is pending or failed",
    "usage.mute": "mute <group>",
    "help.mute": "stop Teams copies of a group",
    "usage.unmute": "unmute <group>",
    "help.unmute": "resume Teams copies of a group",
    "usage.outlook": "outlook off / outlook on",
    "help.outlook": "stop or resume your Outlook copies",
    "usage.meeting": "meeting [<words>]",
    "help.meeting": (
        "make a group of one of your next meetings' people, with an RSVP kept in step with Outlook"
    ),
    "sentence.no_calendar": "Send cannot read calendars here",
    "sentence.no_meeting": "none of your next meetings has “{words}” in its subject",
    "meeting.no_graph": (
        "Meetings need Send's connection to Microsoft Graph, with the Calendars.ReadWrite "
        "permission: ask your Teams admin."
    ),
    "meeting.no_mailbox": "Send does not know your mailbox address yet, so it cannot read your calendar.",
    "meeting.unavailable": "Your calendar could not be read just now ({reason}): try again in a minute.",
    "meeting.refused": "Send may not use your calendar ({reason}): ask your Teams admin.",
    "meeting.none": "You have no meetings in the next 14 days.",
    "meeting.none_named": "None of your meetings in the next 14 days has “{words}” in its subject.",
    "meeting.pick": "Your next meetings: tap one to make a group of its people.",
    "meeting.choice": (
        "{when} · {subject} · {count} person",
        "{when} · {subject} · {count} people",
    ),
    "meeting.untitled": "(no subject)",
    "meeting.not_yours": "That meeting is not in your calendar.",
    "meeting.cancelled": "“{subject}” is cancelled.",
    "meeting.too_many": (
        "That meeting has {count} people from your organisation; a group has at most {most}."
    ),
    "meeting.exists": "{group} is the group of that meeting already.",
    "meeting.made": (
        "{group} is made with the other person of the meeting on {when}. Each has its RSVP.",
        "{group} is made with the {count} others of the meeting on {when}. Each has its RSVP.",
    ),
    "meeting.made_alone": (
        "{group} is made for the meeting on {when}, with you only: nobody else of it is in "
        "your organisation."
    ),
    "meeting.rooms": ("{count} room", "{count} rooms"),
    "meeting.left_out": "Left out (not in your organisation): {who}.",
    "meeting.is_cancelled": "That meeting is cancelled.",
    "meeting.calendar_refused": "Your calendar refused that answer ({reason}).",
    "meeting.too_many_people": (
        "That meeting has {count} people; a group has at most {most}, so nothing was made."
    ),
    "meeting.directory_down": (
        "Your directory could not be read just now, so the meeting's people cannot be "
        "checked: try again in a minute. Nothing was made."
    ),
    "meeting.declined_gone": (
        "Declining {subject} took it out of your Outlook calendar, so your answer cannot "
        "change from here: ask its organizer to send it to you again."
    ),
    "meeting.rsvp": "Coming to {subject}, {when}?",
    "meeting.answer.accepted": "Yes",
    "meeting.answer.tentativelyAccepted": "Maybe",
    "meeting.answer.declined": "No",
    "usage.nudge": "nudge <group>",
    "help.nudge": "remind those who have not answered the group's meeting RSVP or latest poll",
    "owner.nudge": "remind the members of",
    "nudge.nothing": "{group} has no RSVP or poll to answer.",
    "nudge.all_answered": "Everyone in {group} has answered.",
    "nudge.already": "{group} was reminded today already: one reminder a day.",
    "nudge.sent": (
        "Reminded the {count} person who has not answered: {who}.",
        "Reminded the {count} people who have not answered: {who}.",
    ),
    "nudge.nobody": "Nobody in {group} can be reached for a reminder just now.",
    "nudge.reminder": "Reminder: “{question}” waits for your answer in {group}.",
    "meeting.moved": "{subject} moved: it is now on {when} ({group}).",
    "meeting.was_cancelled": "{subject} is cancelled in Outlook ({group}).",
    "usage.receipts": "receipts off / receipts on",
    "help.receipts": "stop or resume the receipt under each message you send",
    "usage.help": "help",
    "help.help": "this list",
    "owner.add": "add members to",
    "owner.remove": "remove members from",
    "owner.rename": "rename",
    "owner.delete": "delete",
    # names and member lists
    "name.invisible": "Group names cannot contain invisible or control characters.",
    "name.empty": "A group needs a name of 1 to 60 characters.",
    "name.too_long": "Group names have at most {most} characters; that one has {length}.",
    "name.colon": "Group names cannot contain ':' (it separates the name from the rest).",
    "members.none_named": "Name the members: e-mail addresses or @mentions, separated by commas.",
    "members.not_address": "{token} is not an e-mail address",
    "members.directory_down": "{address} could not be looked up in your directory just now (try again in a minute)",
    "members.not_in_org": "{address} is not a person in your organisation",
    "members.other_org": (
        "{address} cannot be added by address: Send mails only people of its own "
        "organisation; @mention them instead"
    ),
    "nothing_changed": "{problems}. Nothing was changed.",
    "too_many_new": (
        "A group has at most {most} members including you; that would be {count}. "
        "Nothing was created."
    ),
    "chat_too_big": (
        "This chat has more than {most} people; a Send group has at most {most}. "
        "Nothing was created."
    ),
    # groups
    "group.gone_or_left": "That group no longer exists, or you are no longer a member of it.",
    "group.which_name": "Which group? Add its name (type groups to see yours).",
    "group.none_named": "You have no group named {name}. Type groups to see yours.",
    "group.none_yet": "You have no groups yet. Create one with new <name>: <members>.",
    "group.which_or_use": "Which group? Add its name, or pick one with use <group>.",
    "group.name_taken_you": "You already have a group named {group}; choose another name.",
    "group.name_taken_other": "{person} is already in a group of that name; choose another name.",
    "group.created": "Created {group} with {who}. Anything you type now goes to {group}.",
    "group.only_you": "only you so far",
    "group.made_from_chat": (
        "Made the Send group {group} with the {count} people of this chat. "
        "Each of you gets its messages in a 1:1 chat with me and in Outlook. "
        "To write to it there: use {group}, or to {group}: <text>."
    ),
    "group.name_looks_like": (
        "That name looks just like your group {group}; choose one that looks different."
    ),
    "group.too_many_yours": (
        "You are in {most} groups already, the most one person can be in; leave one first."
    ),
    "group.too_many_theirs": "{person} is in as many groups as one person can be in.",
    "group.slow_down": (
        "You have sent many messages and group changes in the last minute; wait a moment, "
        "then try again. Nothing was changed."
    ),
    "group.already_members": "They are already members of {group}.",
    "group.add_over_limit": (
        "{group} has {count} members; adding {adding} would pass the limit of {most}. "
        "Nothing was changed."
    ),
    "group.would_pass_limit": "{group} would pass the limit of {most}. Nothing was changed.",
    "group.added": "Added {names} to {group}.",
    "group.not_member_named": "{who} is not a member of {group}.",
    "group.that_person": "That person",
    "group.remove_yourself": "To take yourself out, use leave {group}.",
    "group.removed": "Removed {person} from {group}.",
    "group.renamed": "Renamed {group} to {new_name}.",
    "group.left_deleted": "You left {group}; you were its last member, so it is deleted.",
    "group.left_heir": "You left {group}; {heir} owns it now.",
    "group.the_oldest_member": "the oldest member",
    "group.left": "You left {group}.",
    "group.deleted": "Deleted {group}.",
    "group.now_active": "{group} is now your active group: anything you type goes to it.",
    "group.muted": "Muted {group} in Teams; its Outlook thread continues.",
    "group.unmuted": "Unmuted {group}: you get its messages in Teams again.",
    "outlook.no_address": (
        "I do not know your e-mail address, so there is no Outlook copy to turn on."
    ),
    "outlook.other_org": (
        "Send mails only people of its own organisation, so there is no Outlook copy to turn on."
    ),
    "outlook.on": "Outlook copies are on: your groups' threads continue in Outlook.",
    "outlook.off": "Outlook copies are off for all your groups. Type outlook on to resume.",
    "receipts.on": "Receipts are on: each message you send gets one, kept up to date for a day.",
    "receipts.off": (
        "Receipts are off: your next messages get none. Type status to see what became of "
        "one, or receipts on to resume."
    ),
    "receipt.sending": "Sending to {group}",
    "receipt.sent": "Sent to {group}",
    "receipt.delivered": "delivered {count} of {total}",
    "receipt.seen": "seen by {count}",
    "receipt.by_outlook": "{count} by Outlook only",
    "receipt.failed": "{count} not delivered (status {group} says why)",
    "receipt.edited": "edited",
    "receipt.deleted": "Deleted from {group}: taken back from every chat",
    "groups.heading": "Your groups:",
    "groups.line": "- {group}: {members}{marks}",
    "groups.marks": " ({marks})",
    "mark.active": "active",
    "mark.owner": "owner",
    "mark.muted": "muted",
    "members.heading": "{group} has {members}:",
    "members.line": "- {label}{address}: {how}",
    "members.owner": "{name} (owner)",
    "way.teams": "Teams",
    "way.outlook": "Outlook",
    "way.none": "no copies",
    "way.outlook_only": "Outlook only ({why})",
    "history.empty": "No messages in {group} yet.",
    "history.heading": ("The last message in {group}:", "The last {count} messages in {group}:"),
    "history.line": "- {when} {sender}: {text}",
    "owner.only": "Only the owner of {group} ({owner}) can {action} it.",
    "owner.only_do": "Only the owner of {group} can do that.",
    "group.no_longer": "{group} no longer exists.",
    "group.gone": "That group no longer exists.",
    # notices to other people
    "notice.removed": "{actor} removed you from {group}.",
    "notice.renamed": "{actor} renamed {group} to {new_name}.",
    "notice.deleted": "{actor} deleted {group}; its messages are gone.",
    "notice.welcome": (
        "{actor} added you to {group} ({count} people). Its messages reach you here and in "
        "Outlook; answer on a message's card, or type to {group}: <text>. mute {group} stops "
        "them here, leave {group} takes you out."
    ),
    "notice.outlook_only": (
        "{person} gets {group} by Outlook only: Send cannot reach them in Teams ({why}); "
        "it tries again tomorrow."
    ),
    "notice.gone_mailed": (
        "{names} could not be reached in Teams; they still get the Outlook copy."
    ),
    "notice.gone": "{names} could not be reached in Teams.",
    "notice.not_in_thread": (
        "Your message to {group} was not added to its Outlook thread ({why})."
    ),
    "notice.not_in_teams": "{person} did not get your message to {group} in Teams ({why}).",
    # the last mail of a deleted group's Outlook thread
    "thread.deleted": (
        "{actor} deleted {group}; its messages are gone. "
        "Replies to this thread are no longer relayed."
    ),
    # status
    "status.none": (
        "You have not written to {group} lately (status looks at its last 10 messages)."
    ),
    "status.heading": 'Your last message to {group} ({when}): "{text}"',
    "status.in_teams": "- In Teams: {names}",
    "status.seen": "- Seen in Teams: {names}",
    "status.reactions": "- Reactions: {reactions}",
    "status.outlook_only": "- By Outlook only: {names}",
    "status.pending": "- Still pending in Teams: {person}{why}",
    "status.tried": " (tried {times}: {error})",
    "status.failed": "- Not delivered in Teams: {person} ({why})",
    "status.thread": "- Outlook thread: {state}",
    "status.gone": "they removed or blocked Send, or left Teams",
    "status.mail_sent": "added, for {people}",
    "status.mail_pending": "being added, for {people}",
    "status.mail_failed": "not added ({error})",
    # relaying
    "relay.nothing": "There is nothing to send: type a message after the group name.",
    "relay.too_long": (
        "Your message has {length} characters; the limit is {most}. Nothing was sent."
    ),
    "relay.not_member": "You are not a member of {group}.",
    "relay.slow_down": (
        "You have sent {count} messages in the last minute; wait a moment, then send again. "
        "This one was not sent."
    ),
    # one-tap answers
    "answer.with_words": "{answer}: {words}",
    "answer.yes": "Yes",
    "answer.no": "No",
    "answer.on_my_way": "On my way",
    "answer.got_it": "Got it",
    "answer.not_offered": "That answer is not one Send offers; type your reply instead.",
    # polls
    "poll.usage_hint": "Write it as poll <group>: <question> | <option> | <option> …",
    "poll.no_question": "A poll needs a question. {usage}",
    "poll.answer_count": "A poll has {fewest} to {most} answers; that one has {count}. {usage}",
    "poll.answer_too_long": 'Each answer has at most {most} characters; "{start}…" has {length}.',
    "poll.same_answers": "Two answers of the poll are the same.",
    "poll.not_a_poll": "That message is not a poll.",
    "poll.gone": "That poll is no longer there.",
    # The line Teams shows for a relayed card in the chat list and notifications.
    "poll.summary": "{sender} asks {group}",
    "message.summary": "{sender} in {group}",
    "poll.not_an_answer": "That is not one of the poll's answers.",
    "poll.answered": "{answer} (poll: {question})",
    "poll.changed": "{answer}, instead of {before} (poll: {question})",
    "poll.waiting": "Not answered yet: {names}",
    # Teams cards
    "card.in_group": "  in {group}",
    "card.reply": "Reply",
    "card.reply_to": "Reply to {group}",
    "card.you": "You: ",
    "card.which_group": "Which group is this for?",
    "card.send_to": "Send to {group}",
    "card.edited": "edited",
    "history.edited": "{text} (edited)",
    # a message's life: edits, deletes, undo
    "life.edit_unknown": "Send no longer has that message, so your edit reached nobody.",
    "life.edit_poll": (
        "A poll's question cannot be edited; members still see it as it was. Ask a new poll."
    ),
    "life.edit_empty": (
        "An edit cannot leave a message empty; members still see it as it was. Delete it instead."
    ),
    "life.edit_too_long": (
        "Your edit has {length} characters; the limit is {most}. "
        "Members still see the message as it was."
    ),
    "life.delete_unknown": (
        "Send no longer has that message, so there was nothing left to take back."
    ),
    "life.undelete_empty": "That message came back without its text, so Send sent it to nobody.",
    "life.thread_edited": "{sender} edited: {text}",
    "life.thread_deleted": "{sender} deleted a message.",
    "life.thread_restored": "{sender} restored a message: {text}",
    "card.download": "Download",
    "card.photo": "[photo]",
    "card.file": "file",
    # the `new` dialog
    "dialog.ask_name": "What should the new group be called?",
    "dialog.name_again": "{reason} What should it be called?",
    "dialog.ask_members": (
        "Who should be in {group}? E-mail addresses or @mentions, separated by commas."
    ),
    "dialog.members_again": (
        "{reason} Who should be in it? Addresses or @mentions, separated by commas."
    ),
    "dialog.confirm": "Create {group} with {who}?",
    "dialog.not_created": "OK, no group was created.",
    "dialog.yes_or_no": "Create {group}? Answer yes or no (or cancel).",
    # the Outlook mail
    "outlook.off_needs_teams": (
        "Your Outlook copies stay on: you read Send only in Outlook, so without them you "
        "would get nothing. To stop the mails of {group}, leave it."
    ),
    "mail.group_line": ("{group} · {count} member", "{group} · {count} members"),
    "mail.earlier": "Earlier in {group}",
    "mail.edited": "edited",
    "mail.manage": "Manage from your mail:",
    "mail.members": "Members: {names}",
    "mail.answer_by_mail": "Answer by mail (each opens a reply to Send):",
    "mail.mute": "Mute {group} in Teams",
    "mail.unmute": "Unmute {group} in Teams",
    "mail.outlook_off": "Stop Outlook copies",
    "mail.outlook_on": "Outlook copies on",
    "mail.leave": "Leave {group}",
    "mail.leave_sure": "Leave {group}? You will get none of its messages any more.",
    "mail.leave_yes": "Yes, leave",
    "mail.manage_title": "Manage",
    "mail.state": "Teams copies of this group: {teams}. Outlook copies: {outlook}.",
    "mail.state_muted": "muted",
    "mail.state_on": "on",
    "mail.outlook_state_on": "on",
    "mail.outlook_state_off": "off",
    "mail.command_mute": "mute {group}",
    "mail.command_outlook_off": "outlook off",
    "mail.command_leave": "leave {group}",
    "mail.poll": "Poll: {question}",
    "mail.reply_to": "Reply to {group}",
    "mail.send_reply": "Send reply",
    "mail.refresh": "Refresh",
    "mail.reply_all_html": "Reply All to answer the group; your answer reaches it in Teams too.",
    "mail.reply_all": "Reply All to answer the group.",
    "mail.language": ("Send writes this thread in English, the language of most of its members."),
    "mail.attached": "attached",
    "mail.too_large": "too large to attach",
    "mail.photo": "photo",
    "mail.file": "file",
    "mail.shown_here": "shown in this mail",
    # photos and files
    "media.forged_card": "That card was not made by Send for you.",
    "outlook.not_vouched": (
        "A mail to {group} bearing your address was not relayed: your organisation's "
        "Exchange could not confirm it came from you. If you wrote it, write it again in "
        "Teams or from your work Outlook."
    ),
    "outlook.not_relayed": "Your Outlook reply to {group} was not relayed to Teams. {reason}",
    "outlook.relayed_without_media": (
        "Your Outlook reply to {group} was relayed to Teams without its photos and files. {reason}"
    ),
    "media.nothing_sent": "{reason} Nothing was sent.",
    "media.this_file": "This file",
    "media.your_picture": "Your picture",
    "media.empty": "{name} is empty.",
    "media.too_large": "{name} is {size}; the limit is {limit}.",
    "media.larger_than": "{name} is larger than {limit}, the limit.",
    "media.not_accepted": "{name} is not a picture or a document Send accepts.",
    "media.not_accepted_what": "{name} is not a picture or a document Send accepts (it is {what}).",
    "media.too_many_pixels": "{name} is {width} × {height} pixels; the limit is {limit} megapixels.",
    "media.damaged": "{name} looks like {what} but is damaged, so Send cannot check it.",
    "mentions.too_many": (
        "That message mentions {count} people; a message can mention at most {most}. "
        "Nothing was sent."
    ),
    "media.busy": "Send is taking in many photos and files right now; try again in a minute.",
    "media.too_many_scans": (
        "{name} is a JPEG of {scans} scans, more than any camera writes; "
        "save it again as an ordinary JPEG."
    ),
    "media.over_budget": "{name} takes too much work to check; send a smaller or simpler copy.",
    "media.misnamed": "{name} is {what}, not {claimed} as its name says.",
    "media.rename": (
        "{name} is {what} but its name ends in {ext}: rename it to end in {usual} and send it again."
    ),
    "media.bad_link": "{name} came with a link Send does not open.",
    "media.not_teams": "{name} is not on Teams' own servers, so Send cannot open it.",
    "media.not_handed": "Teams did not hand over {name} (HTTP {status}); send it again.",
    "media.no_download": "Send could not download {name}; send it again.",
    "media.bad_form": "{name} came in a form Send does not read.",
    "media.arrived_damaged": "{name} arrived damaged; send it again.",
    "media.too_many": "That is {count} photos and files; at most {limit} go in one message.",
    "size.bytes": ("{count} byte", "{count} bytes"),
    "size.exact": "{n} bytes",
    "size.kb": "{n} KB",
    "size.mb": "{n} MB",
    "size.kb_tenths": "{n}.{d} KB",
    "size.mb_tenths": "{n}.{d} MB",
    "what.png": "a PNG picture",
    "what.jpeg": "a JPEG picture",
    "what.gif": "a GIF picture",
    "what.webp": "a WebP picture",
    "what.pdf": "a PDF document",
    "what.docx": "a Word document",
    "what.xlsx": "an Excel workbook",
    "what.pptx": "a PowerPoint presentation",
    "what.text": "a text file",
    "what.csv": "a CSV table",
    "what.windows_program": "a Windows program",
    "what.linux_program": "a Linux program",
    "what.macos_program": "a macOS program",
    "what.program": "a program",
    "what.wasm_program": "a WebAssembly program",
    "what.script": "a script",
    "what.damaged_zip": "a damaged ZIP archive",
    "what.zip": "a ZIP archive",
    "what.office_remote": "an Office file that fetches a template or content from elsewhere",
    "what.office_program": "an Office file with a program inside",
    "what.office_embedded_file": "an Office file with an embedded file",
    "what.office_macros": "an Office file with macros",
    "what.archive": "an archive",
    "what.heic": "a HEIC picture: send it as a JPEG or PNG instead",
    "what.other_picture": "a picture in another format: send it as a JPEG or PNG instead",
    "what.video": "a video",
    "what.sound": "a sound recording",
}
