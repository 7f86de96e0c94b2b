"""Who may use Send, and whom the service mailbox may write to.

Two small rules every entry point applies the same way: the organisations allowed
to use Send (never personal Microsoft accounts), and, when Send mails through
Microsoft Graph, only people of the mailbox's own organisation, so the service
mailbox can never be made to write to arbitrary addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.model import Person
from bot.core.texts import Language, say

# The tenant of personal Microsoft accounts (outlook.com, hotmail.com, live.com).
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


class TenantRefusal(StrEnum):
    """Why an organisation may not use Send; each value is its line in the text catalog."""

    PERSONAL_ACCOUNT = "tenant.personal"
    NOT_ALLOWED = "tenant.not_allowed"

    def say(self, language: Language) -> str:
        return say(language, self.value)


NOT_ALLOWED = TenantRefusal.NOT_ALLOWED.say(Language.EN)
PERSONAL_ACCOUNT = TenantRefusal.PERSONAL_ACCOUNT.say(Language.EN)


@dataclass(frozen=True)
class TenantGate:
    """Which organisations may use Send (empty = any work or school organisation, never
    personal Microsoft accounts): the one rule the Teams and Outlook entry points apply."""

    allowed: frozenset[str] = frozenset()

    def refusal(self, tenant_id: str) -> TenantRefusal | None:
        """Why this organisation may not use Send, or None when it may."""
        if tenant_id.lower() == CONSUMER_TENANT:
            return TenantRefusal.PERSONAL_ACCOUNT
        if self.allowed and tenant_id not in self.allowed:
            return TenantRefusal.NOT_ALLOWED
        return None

    def allows(self, tenant_id: str) -> bool:
        return self.refusal(tenant_id) is None


@dataclass(frozen=True)
class MailPolicy:
    """Whom the Outlook thread goes to.

    `mail_tenant` is the Graph tenant when Send mails through Graph: only its people
    get mail. None when mail is written as local .eml files (nothing leaves the machine).
    """

    mail_tenant: str | None = None

    def mails_tenant(self, tenant_id: str) -> bool:
        return self.mail_tenant is None or tenant_id == self.mail_tenant

    def mails(self, person: Person) -> bool:
        return bool(person.email and person.outlook_on and self.mails_tenant(person.tenant_id))
