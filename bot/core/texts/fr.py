"""Français : chaque texte de Send, par clé (voir `bot.core.texts`).

Typographie : une espace insécable avant « : ; ? ! » et à l'intérieur des guillemets
« », ajoutée par `_typography` pour que la règle s'applique partout de la même façon.
"""

from __future__ import annotations

import re

_RAW: dict[str, str | tuple[str, str]] = {
    # mots et pluriels
    "list.and": "{first} et {last}",
    "n.member": ("{count} membre", "{count} membres"),
    "n.person": ("{count} personne", "{count} personnes"),
    "n.message": ("{count} message", "{count} messages"),
    "n.time": ("{count} fois", "{count} fois"),
    "a_former_member": "un ancien membre",
    "nobody": "personne",
    "nobody_yet": "personne pour l'instant",
    "unknown": "inconnu",
    # dates : « mar. 1 déc. 10:00 »
    "date.day": "{weekday} {day} {month} {time}",
    "date.year": "{weekday} {day} {month} {year} {time}",
    "date.mail": "{weekday} {day} {month}, {time}",
    "date.utc": "{time} UTC",
    "day.0": "lun.",
    "day.1": "mar.",
    "day.2": "mer.",
    "day.3": "jeu.",
    "day.4": "ven.",
    "day.5": "sam.",
    "day.6": "dim.",
    "month.1": "janv.",
    "month.2": "févr.",
    "month.3": "mars",
    "month.4": "avr.",
    "month.5": "mai",
    "month.6": "juin",
    "month.7": "juil.",
    "month.8": "août",
    "month.9": "sept.",
    "month.10": "oct.",
    "month.11": "nov.",
    "month.12": "déc.",
    # la conversation
    "tenant.not_allowed": "Send n'est pas activé pour votre organisation.",
    "tenant.personal": (
        "Send est réservé aux comptes professionnels et scolaires ; les comptes Microsoft "
        "personnels ne peuvent pas l'utiliser."
    ),
    "welcome": (
        "Bonjour, je suis Send. Créez un groupe avec nouveau <nom> : <adresses e-mail de vos "
        "collègues>, puis écrivez : chaque membre reçoit votre message dans Teams et Outlook. "
        "Tapez aide pour toutes les commandes."
    ),
    "group_chat_intro": (
        "Bonjour, je suis Send. Tapez @Send nouveau <nom> ici pour faire un groupe Send de "
        "toutes les personnes de cette conversation ; chacun y écrit ensuite depuis sa propre "
        "conversation avec Send, et chaque message parvient aux autres dans Teams et dans un "
        "même fil Outlook."
    ),
    "group_chat_help": (
        "Dans une conversation de groupe, je ne fais que créer des groupes : mentionnez-moi "
        "avec nouveau <nom> pour faire un groupe Send des membres de cette conversation. "
        "Tout le reste se passe dans votre conversation privée avec moi."
    ),
    "cancelled": "Annulé ; aucun groupe n'a été créé.",
    "sent_now_active": "Envoyé à {group}, qui est maintenant votre groupe actif.",
    "type_something": "Tapez un message, ou aide pour la liste des commandes.",
    "no_groups_not_sent": (
        "Vous n'avez pas encore de groupe, ce message n'a donc pas été envoyé. "
        "Créez-en un avec nouveau <nom> : <membres>, ou tapez aide."
    ),
    "which_group_pick": (
        "Pour quel groupe est ce message ? Choisissez-en un ; rien n'a encore été envoyé."
    ),
    "write_it_as": "Écrivez-le ainsi : {usage}.",
    "type_help": "Tapez aide pour la liste des commandes.",
    # des mots qui commencent par une commande sans en être une : une phrase, à envoyer
    "sentence.offer": (
        "« {typed} » n'est pas une commande que vous pouvez utiliser ({why}). "
        "L'envoyer à {group} comme message ?"
    ),
    "sentence.pick": (
        "« {typed} » n'est pas une commande que vous pouvez utiliser ({why}). "
        "L'envoyer comme message ? Choisissez un groupe ; rien n'a encore été envoyé."
    ),
    "sentence.no_group": "vous n'avez pas de groupe nommé « {name} »",
    "sentence.takes_nothing": "{word} s'emploie sans rien après",
    "sentence.type_alone": "Tapez {word} seul, sans rien après.",
    "sentence.write_it_as": "écrivez-le ainsi : {usage}",
    # aide
    "help.intro": ("Send transmet vos messages à un groupe de collègues dans Teams et Outlook."),
    "help.line": "- {usage} — {help}",
    "usage.new": "nouveau <nom> : <membres>",
    "help.new": (
        "créer un groupe (adresses ou @mentions ; jusqu'à 20 personnes). « nouveau » seul "
        "vous guide pas à pas"
    ),
    "usage.groups": "groupes",
    "help.groups": "vos groupes, et lequel est actif",
    "usage.use": "utiliser <groupe>",
    "help.use": "rendre un groupe actif ; tout ce que vous tapez ensuite lui est envoyé",
    "usage.to": "pour <groupe> : <texte>",
    "help.to": "écrire à un groupe sans changer le groupe actif",
    "usage.members": "membres [<groupe>]",
    "help.members": "qui fait partie d'un groupe et comment chacun reçoit les messages",
    "usage.add": "ajouter <groupe> : <membres>",
    "help.add": "ajouter des personnes (propriétaire seulement)",
    "usage.remove": "retirer <groupe> : <membre>",
    "help.remove": "retirer quelqu'un (propriétaire seulement)",
    "usage.rename": "renommer <groupe> : <nouveau nom>",
    "help.rename": "renommer (propriétaire seulement)",
    "usage.leave": "quitter <groupe>",
    "help.leave": "quitter un groupe",
    "usage.delete": "supprimer <groupe>",
    "help.delete": "supprimer un groupe (propriétaire seulement)",
    "usage.history": "historique [<groupe>]",
    "help.history": "les 10 derniers messages",
    "usage.poll": "sondage <groupe> : <question> | <réponse> | <réponse> …",
    "help.poll": (
        "poser une question avec 2 à 6 réponses ; chacun répond d'un geste et voit le décompte"
    ),
    "usage.status": "état [<groupe>]",
    "help.status": (
        "ce qu'est devenu votre dernier message : qui l'a reçu, ce qui attend ou a échoué"
    ),
    "usage.mute": "muet <groupe>",
    "help.mute": "ne plus recevoir les copies Teams d'un groupe",
    "usage.unmute": "réactiver <groupe>",
    "help.unmute": "recevoir à nouveau les copies Teams d'un groupe",
    "usage.outlook": "outlook non / outlook oui",
    "help.outlook": "arrêter ou reprendre vos copies Outlook",
    "usage.meeting": "réunion [<mots>]",
    "help.meeting": (
        "faire un groupe des participants d'une de vos prochaines réunions, avec une réponse "
        "tenue à jour dans Outlook"
    ),
    "sentence.no_calendar": "Send ne peut pas lire les calendriers ici",
    "sentence.no_meeting": "aucune de vos prochaines réunions n'a « {words} » dans son objet",
    "meeting.no_graph": (
        "Les réunions demandent la connexion de Send à Microsoft Graph, avec la permission "
        "Calendars.ReadWrite : demandez à votre administrateur Teams."
    ),
    "meeting.no_mailbox": (
        "Send ne connaît pas encore votre adresse de messagerie : il ne peut pas lire votre "
        "calendrier."
    ),
    "meeting.unavailable": (
        "Votre calendrier n'a pas pu être lu ({reason}) : réessayez dans une minute."
    ),
    "meeting.refused": (
        "Send n'a pas accès à votre calendrier ({reason}) : demandez à votre administrateur Teams."
    ),
    "meeting.none": "Vous n'avez aucune réunion dans les 14 prochains jours.",
    "meeting.none_named": (
        "Aucune de vos réunions des 14 prochains jours n'a « {words} » dans son objet."
    ),
    "meeting.pick": "Vos prochaines réunions : touchez-en une pour faire un groupe de ses participants.",
    "meeting.choice": (
        "{when} · {subject} · {count} personne",
        "{when} · {subject} · {count} personnes",
    ),
    "meeting.untitled": "(sans objet)",
    "meeting.not_yours": "Cette réunion n'est pas dans votre calendrier.",
    "meeting.cancelled": "« {subject} » est annulée.",
    "meeting.too_many": (
        "Cette réunion compte {count} personnes de votre organisation ; un groupe en a "
        "{most} au plus."
    ),
    "meeting.exists": "{group} est déjà le groupe de cette réunion.",
    "meeting.made_alone": (
        "{group} est créé pour la réunion du {when}, avec vous seul : personne d'autre n'y "
        "est de votre organisation."
    ),
    "meeting.made": (
        "{group} est créé avec l'autre participant de la réunion du {when}. Chacun a sa "
        "réponse à donner.",
        "{group} est créé avec les {count} autres participants de la réunion du {when}. "
        "Chacun a sa réponse à donner.",
    ),
    "meeting.rooms": ("{count} salle", "{count} salles"),
    "meeting.left_out": "Laissés de côté (hors de votre organisation) : {who}.",
    "meeting.is_cancelled": "Cette réunion est annulée.",
    "meeting.calendar_refused": "Votre calendrier a refusé cette réponse ({reason}).",
    "meeting.too_many_people": (
        "Cette réunion compte {count} personnes ; un groupe en a {most} au plus, rien n'a "
        "donc été créé."
    ),
    "meeting.directory_down": (
        "Votre annuaire n'a pas pu être lu pour l'instant, les participants ne peuvent donc pas "
        "être vérifiés : réessayez dans une minute. Rien n'a été créé."
    ),
    "meeting.declined_gone": (
        "Refuser {subject} l'a retirée de votre calendrier Outlook : votre réponse ne peut "
        "plus changer d'ici. Demandez à l'organisateur de vous l'envoyer à nouveau."
    ),
    "meeting.rsvp": "Venez-vous à {subject}, {when} ?",
    "meeting.answer.accepted": "Oui",
    "meeting.answer.tentativelyAccepted": "Peut-être",
    "meeting.answer.declined": "Non",
    "usage.nudge": "relancer <groupe>",
    "help.nudge": "relancer ceux qui n'ont pas répondu à la réunion ou au dernier sondage du groupe",
    "owner.nudge": "relancer ses membres",
    "nudge.nothing": "{group} n'a ni réunion ni sondage en attente de réponse.",
    "nudge.all_answered": "Tout le monde a répondu dans {group}.",
    "nudge.already": "{group} a déjà été relancé aujourd'hui : une relance par jour.",
    "nudge.sent": (
        "{count} personne relancée, sans réponse jusqu'ici : {who}.",
        "{count} personnes relancées, sans réponse jusqu'ici : {who}.",
    ),
    "nudge.nobody": "Personne dans {group} ne peut recevoir de rappel pour l'instant.",
    "nudge.reminder": "Rappel : « {question} » attend votre réponse dans {group}.",
    "meeting.moved": "{subject} a été déplacée : elle a lieu le {when} ({group}).",
    "meeting.was_cancelled": "{subject} est annulée dans Outlook ({group}).",
    "usage.receipts": "accusés non / accusés oui",
    "help.receipts": "arrêter ou reprendre l'accusé sous chaque message que vous envoyez",
    "usage.help": "aide",
    "help.help": "cette liste",
    "owner.add": "y ajouter des membres",
    "owner.remove": "en retirer des membres",
    "owner.rename": "le renommer",
    "owner.delete": "le supprimer",
    # noms et listes de membres
    "name.invisible": (
        "Un nom de groupe ne peut pas contenir de caractères invisibles ou de contrôle."
    ),
    "name.empty": "Un groupe a besoin d'un nom de 1 à 60 caractères.",
    "name.too_long": ("Un nom de groupe a au plus {most} caractères ; celui-ci en a {length}."),
    "name.colon": ("Un nom de groupe ne peut pas contenir « : » (il sépare le nom du reste)."),
    "members.none_named": (
        "Indiquez les membres : adresses e-mail ou @mentions, séparées par des virgules."
    ),
    "members.not_address": "{token} n'est pas une adresse e-mail",
    "members.directory_down": "{address} n'a pas pu être cherché dans votre annuaire pour l'instant (réessayez dans une minute)",
    "members.not_in_org": "{address} n'est pas une personne de votre organisation",
    "members.other_org": (
        "{address} ne peut pas être ajouté par son adresse : Send n'écrit qu'aux personnes "
        "de sa propre organisation ; mentionnez-le plutôt avec @"
    ),
    "nothing_changed": "{problems}. Rien n'a été modifié.",
    "too_many_new": (
        "Un groupe a au plus {most} membres, vous compris ; cela en ferait {count}. "
        "Rien n'a été créé."
    ),
    "chat_too_big": (
        "Cette conversation compte plus de {most} personnes ; un groupe Send en a au plus "
        "{most}. Rien n'a été créé."
    ),
    # groupes
    "group.gone_or_left": ("Ce groupe n'existe plus, ou vous n'en êtes plus membre."),
    "group.which_name": "Quel groupe ? Ajoutez son nom (tapez groupes pour voir les vôtres).",
    "group.none_named": (
        "Vous n'avez pas de groupe nommé {name}. Tapez groupes pour voir les vôtres."
    ),
    "group.none_yet": (
        "Vous n'avez pas encore de groupe. Créez-en un avec nouveau <nom> : <membres>."
    ),
    "group.which_or_use": (
        "Quel groupe ? Ajoutez son nom, ou choisissez-en un avec utiliser <groupe>."
    ),
    "group.name_taken_you": "Vous avez déjà un groupe nommé {group} ; choisissez un autre nom.",
    "group.name_taken_other": (
        "{person} fait déjà partie d'un groupe de ce nom ; choisissez un autre nom."
    ),
    "group.created": (
        "{group} est créé avec {who}. Tout ce que vous tapez maintenant va à {group}."
    ),
    "group.only_you": "vous seul pour l'instant",
    "group.made_from_chat": (
        "Groupe Send {group} créé avec les {count} personnes de cette conversation. "
        "Chacun en reçoit les messages dans sa conversation privée avec moi et dans Outlook. "
        "Pour y écrire depuis là : utiliser {group}, ou pour {group} : <texte>."
    ),
    "group.name_looks_like": (
        "Ce nom ressemble à s'y méprendre à votre groupe {group} ; choisissez-en un qui se "
        "distingue."
    ),
    "group.too_many_yours": (
        "Vous êtes déjà dans {most} groupes, le maximum pour une personne ; quittez-en un d'abord."
    ),
    "group.too_many_theirs": "{person} est dans autant de groupes qu'une personne peut l'être.",
    "group.slow_down": (
        "Vous avez envoyé beaucoup de messages et de changements de groupe dans la dernière "
        "minute ; attendez un moment, puis réessayez. Rien n'a été changé."
    ),
    "group.already_members": "Ces personnes sont déjà membres de {group}.",
    "group.add_over_limit": (
        "{group} a {count} membres ; en ajouter {adding} dépasserait la limite de {most}. "
        "Rien n'a été modifié."
    ),
    "group.would_pass_limit": "{group} dépasserait la limite de {most}. Rien n'a été modifié.",
    "group.added": "Ajouté à {group} : {names}.",
    "group.not_member_named": "{who} n'est pas membre de {group}.",
    "group.that_person": "Cette personne",
    "group.remove_yourself": "Pour vous retirer vous-même, utilisez quitter {group}.",
    "group.removed": "Retiré de {group} : {person}.",
    "group.renamed": "{group} est renommé en {new_name}.",
    "group.left_deleted": (
        "Vous avez quitté {group} ; vous en étiez le dernier membre, il est donc supprimé."
    ),
    "group.left_heir": "Vous avez quitté {group} ; {heir} en est maintenant propriétaire.",
    "group.the_oldest_member": "le plus ancien membre",
    "group.left": "Vous avez quitté {group}.",
    "group.deleted": "{group} est supprimé.",
    "group.now_active": (
        "{group} est maintenant votre groupe actif : tout ce que vous tapez lui est envoyé."
    ),
    "group.muted": "{group} est muet dans Teams ; son fil Outlook continue.",
    "group.unmuted": "{group} est réactivé : vous en recevez à nouveau les messages dans Teams.",
    "outlook.no_address": (
        "Je ne connais pas votre adresse e-mail, il n'y a donc pas de copie Outlook à activer."
    ),
    "outlook.other_org": (
        "Send n'écrit qu'aux personnes de sa propre organisation, il n'y a donc pas de copie "
        "Outlook à activer."
    ),
    "outlook.on": "Les copies Outlook sont activées : les fils de vos groupes continuent dans Outlook.",
    "outlook.off": (
        "Les copies Outlook sont désactivées pour tous vos groupes. Tapez outlook oui pour "
        "les reprendre."
    ),
    "receipts.on": (
        "Accusés activés : chaque message que vous envoyez en reçoit un, tenu à jour un jour."
    ),
    "receipts.off": (
        "Accusés désactivés : vos prochains messages n'en reçoivent plus. Tapez état pour "
        "voir ce qu'est devenu un message, ou accusés oui pour les reprendre."
    ),
    "receipt.sending": "Envoi à {group} en cours",
    "receipt.sent": "Envoyé à {group}",
    "receipt.delivered": "remis à {count} sur {total}",
    "receipt.seen": "vu par {count}",
    "receipt.by_outlook": "{count} par Outlook seulement",
    "receipt.failed": "{count} non remis (état {group} dit pourquoi)",
    "receipt.edited": "modifié",
    "receipt.deleted": "Supprimé de {group} : retiré de toutes les conversations",
    "groups.heading": "Vos groupes :",
    "groups.line": "- {group} : {members}{marks}",
    "groups.marks": " ({marks})",
    "mark.active": "actif",
    "mark.owner": "propriétaire",
    "mark.muted": "muet",
    "members.heading": "{group} a {members} :",
    "members.line": "- {label}{address} : {how}",
    "members.owner": "{name} (propriétaire)",
    "way.teams": "Teams",
    "way.outlook": "Outlook",
    "way.none": "aucune copie",
    "way.outlook_only": "Outlook seulement ({why})",
    "history.empty": "Pas encore de message dans {group}.",
    "history.heading": (
        "Le dernier message dans {group} :",
        "Les {count} derniers messages dans {group} :",
    ),
    "history.line": "- {when} {sender} : {text}",
    "owner.only": "Seul le propriétaire de {group} ({owner}) peut {action}.",
    "owner.only_do": "Seul le propriétaire de {group} peut faire cela.",
    "group.no_longer": "{group} n'existe plus.",
    "group.gone": "Ce groupe n'existe plus.",
    # avis aux autres personnes
    "notice.removed": "{actor} vous a retiré(e) de {group}.",
    "notice.renamed": "{actor} a renommé {group} en {new_name}.",
    "notice.deleted": "{actor} a supprimé {group} ; ses messages ont disparu.",
    "notice.welcome": (
        "{actor} vous a ajouté(e) à {group} ({count} personnes). Ses messages vous arrivent "
        "ici et dans Outlook ; répondez sur la carte d'un message, ou tapez pour {group} : "
        "<texte>. muet {group} les arrête ici, quitter {group} vous retire du groupe."
    ),
    "notice.outlook_only": (
        "{person} reçoit {group} par Outlook seulement : Send ne parvient pas à joindre "
        "cette personne dans Teams ({why}) ; il réessaiera demain."
    ),
    "notice.gone_mailed": (
        "Impossible de joindre {names} dans Teams ; la copie Outlook leur parvient quand même."
    ),
    "notice.gone": "Impossible de joindre {names} dans Teams.",
    "notice.not_in_thread": (
        "Votre message à {group} n'a pas été ajouté à son fil Outlook ({why})."
    ),
    "notice.not_in_teams": ("{person} n'a pas reçu votre message à {group} dans Teams ({why})."),
    # le dernier courriel du fil Outlook d'un groupe supprimé
    "thread.deleted": (
        "{actor} a supprimé {group} ; ses messages ont disparu. "
        "Les réponses à ce fil ne sont plus transmises."
    ),
    # état
    "status.none": (
        "Vous n'avez pas écrit à {group} récemment (état regarde ses 10 derniers messages)."
    ),
    "status.heading": "Votre dernier message à {group} ({when}) : « {text} »",
    "status.in_teams": "- Dans Teams : {names}",
    "status.seen": "- Vu dans Teams : {names}",
    "status.reactions": "- Réactions : {reactions}",
    "status.outlook_only": "- Par Outlook seulement : {names}",
    "status.pending": "- Encore en attente dans Teams : {person}{why}",
    "status.tried": " (essayé {times} : {error})",
    "status.failed": "- Non remis dans Teams : {person} ({why})",
    "status.thread": "- Fil Outlook : {state}",
    "status.gone": "la personne a retiré ou bloqué Send, ou quitté Teams",
    "status.mail_sent": "ajouté, pour {people}",
    "status.mail_pending": "en cours d'ajout, pour {people}",
    "status.mail_failed": "non ajouté ({error})",
    # relais
    "relay.nothing": "Il n'y a rien à envoyer : tapez un message après le nom du groupe.",
    "relay.too_long": (
        "Votre message a {length} caractères ; la limite est de {most}. Rien n'a été envoyé."
    ),
    "relay.not_member": "Vous n'êtes pas membre de {group}.",
    "relay.slow_down": (
        "Vous avez envoyé {count} messages dans la dernière minute ; attendez un instant, "
        "puis réessayez. Celui-ci n'a pas été envoyé."
    ),
    # réponses d'un geste
    "answer.with_words": "{answer} : {words}",
    "answer.yes": "Oui",
    "answer.no": "Non",
    "answer.on_my_way": "J'arrive",
    "answer.got_it": "Bien reçu",
    "answer.not_offered": (
        "Cette réponse n'est pas une de celles que propose Send ; tapez plutôt votre réponse."
    ),
    # sondages
    "poll.usage_hint": "Écrivez-le ainsi : sondage <groupe> : <question> | <réponse> | <réponse> …",
    "poll.no_question": "Un sondage a besoin d'une question. {usage}",
    "poll.answer_count": (
        "Un sondage a de {fewest} à {most} réponses ; celui-ci en a {count}. {usage}"
    ),
    "poll.answer_too_long": (
        "Chaque réponse a au plus {most} caractères ; « {start}… » en a {length}."
    ),
    "poll.same_answers": "Deux réponses du sondage sont identiques.",
    "poll.not_a_poll": "Ce message n'est pas un sondage.",
    "poll.gone": "Ce sondage n'existe plus.",
    "poll.summary": "Sondage de {sender} dans {group}",
    "message.summary": "{sender} dans {group}",
    "poll.not_an_answer": "Ce n'est pas une des réponses du sondage.",
    "poll.answered": "{answer} (sondage : {question})",
    "poll.changed": "{answer}, au lieu de {before} (sondage : {question})",
    "poll.waiting": "Pas encore répondu : {names}",
    # cartes Teams
    "card.in_group": "  dans {group}",
    "card.reply": "Répondre",
    "card.reply_to": "Répondre à {group}",
    "card.you": "Vous : ",
    "card.which_group": "Pour quel groupe est ce message ?",
    "card.send_to": "Envoyer à {group}",
    "card.edited": "modifié",
    "history.edited": "{text} (modifié)",
    # la vie d'un message : modifications, suppressions, annulation
    "life.edit_unknown": (
        "Send n'a plus ce message : votre modification n'a été transmise à personne."
    ),
    "life.edit_poll": (
        "La question d'un sondage ne peut pas être modifiée ; les membres la voient telle "
        "qu'elle était. Posez un nouveau sondage."
    ),
    "life.edit_empty": (
        "Une modification ne peut pas vider un message ; les membres le voient tel qu'il "
        "était. Supprimez-le plutôt."
    ),
    "life.edit_too_long": (
        "Votre modification a {length} caractères ; la limite est de {most}. "
        "Les membres voient le message tel qu'il était."
    ),
    "life.delete_unknown": "Send n'a plus ce message : il n'y avait plus rien à retirer.",
    "life.undelete_empty": (
        "Ce message est revenu sans son texte : Send ne l'a envoyé à personne."
    ),
    "life.thread_edited": "{sender} a modifié : {text}",
    "life.thread_deleted": "{sender} a supprimé un message.",
    "life.thread_restored": "{sender} a rétabli un message : {text}",
    "card.download": "Télécharger",
    "card.photo": "[photo]",
    "card.file": "fichier",
    # le dialogue `nouveau`
    "dialog.ask_name": "Comment s'appellera le nouveau groupe ?",
    "dialog.name_again": "{reason} Comment doit-il s'appeler ?",
    "dialog.ask_members": (
        "Qui doit faire partie de {group} ? Adresses e-mail ou @mentions, séparées par des "
        "virgules."
    ),
    "dialog.members_again": (
        "{reason} Qui doit en faire partie ? Adresses ou @mentions, séparées par des virgules."
    ),
    "dialog.confirm": "Créer {group} avec {who} ?",
    "dialog.not_created": "D'accord, aucun groupe n'a été créé.",
    "dialog.yes_or_no": "Créer {group} ? Répondez oui ou non (ou annuler).",
    # le courrier Outlook
    "outlook.off_needs_teams": (
        "Vos copies Outlook restent activées : vous lisez Send seulement dans Outlook, et "
        "sans elles vous ne recevriez plus rien. Pour ne plus recevoir les e-mails de "
        "{group}, quittez-le."
    ),
    "mail.group_line": ("{group} · {count} membre", "{group} · {count} membres"),
    "mail.earlier": "Plus tôt dans {group}",
    "mail.edited": "modifié",
    "mail.manage": "Gérer depuis votre messagerie :",
    "mail.members": "Membres : {names}",
    "mail.answer_by_mail": "Répondre par e-mail (chaque lien ouvre une réponse à Send) :",
    "mail.mute": "Mettre {group} en sourdine dans Teams",
    "mail.unmute": "Réactiver {group} dans Teams",
    "mail.outlook_off": "Arrêter les copies Outlook",
    "mail.outlook_on": "Reprendre les copies Outlook",
    "mail.leave": "Quitter {group}",
    "mail.leave_sure": "Quitter {group} ? Vous ne recevrez plus aucun de ses messages.",
    "mail.leave_yes": "Oui, quitter",
    "mail.manage_title": "Gérer",
    "mail.state": "Copies Teams de ce groupe : {teams}. Copies Outlook : {outlook}.",
    "mail.state_muted": "en sourdine",
    "mail.state_on": "actives",
    "mail.outlook_state_on": "activées",
    "mail.outlook_state_off": "arrêtées",
    "mail.command_mute": "muet {group}",
    "mail.command_outlook_off": "outlook non",
    "mail.command_leave": "quitter {group}",
    "mail.poll": "Sondage : {question}",
    "mail.reply_to": "Répondre à {group}",
    "mail.send_reply": "Envoyer la réponse",
    "mail.refresh": "Actualiser",
    "mail.reply_all_html": (
        "Répondez à tous pour écrire au groupe ; votre réponse lui parvient aussi dans Teams."
    ),
    "mail.reply_all": "Répondez à tous pour écrire au groupe.",
    "mail.language": ("Send écrit ce fil en français, la langue de la plupart de ses membres."),
    "mail.attached": "en pièce jointe",
    "mail.too_large": "trop volumineux pour être joint",
    "mail.photo": "photo",
    "mail.file": "fichier",
    "mail.shown_here": "affichée dans ce message",
    # photos and files
    "media.forged_card": "Cette carte n'a pas été faite par Send pour vous.",
    "outlook.not_vouched": (
        "Un courriel à {group} portant votre adresse n'a pas été relayé : l'Exchange de "
        "votre organisation n'a pas pu confirmer qu'il venait de vous. Si vous l'avez écrit, "
        "écrivez-le à nouveau dans Teams ou depuis votre Outlook professionnel."
    ),
    "outlook.not_relayed": (
        "Votre réponse Outlook à {group} n'a pas été transmise dans Teams. {reason}"
    ),
    "outlook.relayed_without_media": (
        "Votre réponse Outlook à {group} a été transmise dans Teams sans ses photos et "
        "fichiers. {reason}"
    ),
    "media.nothing_sent": "{reason} Rien n'a été envoyé.",
    "media.this_file": "Ce fichier",
    "media.your_picture": "Votre image",
    "media.empty": "{name} est vide.",
    "media.too_large": "{name} fait {size} ; la limite est de {limit}.",
    "media.larger_than": "{name} dépasse la limite de {limit}.",
    "media.not_accepted": "{name} n'est ni une image ni un document que Send accepte.",
    "media.not_accepted_what": (
        "{name} n'est ni une image ni un document que Send accepte (c'est {what})."
    ),
    "media.too_many_pixels": (
        "{name} fait {width} × {height} pixels ; la limite est de {limit} mégapixels."
    ),
    "media.damaged": (
        "{name} ressemble à {what} mais est endommagé : Send ne peut pas le vérifier."
    ),
    "mentions.too_many": (
        "Ce message mentionne {count} personnes ; un message peut en mentionner au plus "
        "{most}. Rien n'a été envoyé."
    ),
    "media.busy": (
        "Send reçoit beaucoup de photos et de fichiers en ce moment ; réessayez dans une minute."
    ),
    "media.too_many_scans": (
        "{name} est un JPEG de {scans} passes, plus qu'aucun appareil photo n'en écrit ; "
        "enregistrez-le à nouveau comme un JPEG ordinaire."
    ),
    "media.over_budget": (
        "{name} demande trop de travail à vérifier ; envoyez-en une copie plus petite ou "
        "plus simple."
    ),
    "media.misnamed": "{name} est {what}, et non {claimed} comme son nom l'indique.",
    "media.rename": (
        "{name} est {what} mais son nom se termine par {ext} : renommez-le en {usual} "
        "et envoyez-le à nouveau."
    ),
    "media.bad_link": "{name} est arrivé avec un lien que Send n'ouvre pas.",
    "media.not_teams": ("{name} n'est pas sur les serveurs de Teams : Send ne peut pas l'ouvrir."),
    "media.not_handed": "Teams n'a pas transmis {name} (HTTP {status}) ; envoyez-le à nouveau.",
    "media.no_download": "Send n'a pas pu télécharger {name} ; envoyez-le à nouveau.",
    "media.bad_form": "{name} est arrivé sous une forme que Send ne lit pas.",
    "media.arrived_damaged": "{name} est arrivé endommagé ; envoyez-le à nouveau.",
    "media.too_many": (
        "Cela fait {count} photos et fichiers ; un message en contient au plus {limit}."
    ),
    "size.bytes": ("{count} octet", "{count} octets"),
    "size.exact": "{n} octets",
    "size.kb": "{n} Ko",
    "size.mb": "{n} Mo",
    "size.kb_tenths": "{n},{d} Ko",
    "size.mb_tenths": "{n},{d} Mo",
    "what.png": "une image PNG",
    "what.jpeg": "une image JPEG",
    "what.gif": "une image GIF",
    "what.webp": "une image WebP",
    "what.pdf": "un document PDF",
    "what.docx": "un document Word",
    "what.xlsx": "un classeur Excel",
    "what.pptx": "une présentation PowerPoint",
    "what.text": "un fichier texte",
    "what.csv": "un tableau CSV",
    "what.windows_program": "un programme Windows",
    "what.linux_program": "un programme Linux",
    "what.macos_program": "un programme macOS",
    "what.program": "un programme",
    "what.wasm_program": "un programme WebAssembly",
    "what.script": "un script",
    "what.damaged_zip": "une archive ZIP endommagée",
    "what.zip": "une archive ZIP",
    "what.office_remote": "un fichier Office qui va chercher un modèle ou un contenu ailleurs",
    "what.office_program": "un fichier Office contenant un programme",
    "what.office_embedded_file": "un fichier Office contenant un fichier incorporé",
    "what.office_macros": "un fichier Office avec des macros",
    "what.archive": "une archive",
    "what.heic": "une image HEIC : envoyez-la plutôt en JPEG ou en PNG",
    "what.other_picture": "une image dans un autre format : envoyez-la plutôt en JPEG ou en PNG",
    "what.video": "une vidéo",
    "what.sound": "un enregistrement sonore",
}

NBSP = "\u00a0"
# A space (or none) before a high punctuation mark that ends a word: made non-breaking.
_HIGH = re.compile(r"(?<=[^\s|])[ ]?([:;?!])(?=\s|$)")


def _typography(value: str) -> str:
    value = _HIGH.sub(NBSP + r"\1", value)
    return value.replace("« ", "«" + NBSP).replace(" »", NBSP + "»")


TEXTS: dict[str, str | tuple[str, str]] = {
    key: (_typography(v[0]), _typography(v[1])) if isinstance(v, tuple) else _typography(v)
    for key, v in _RAW.items()
}
