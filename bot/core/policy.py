"""Who may use Send, and whom the service mailbox may write to.

Two small rules every entry point applies the same way: the organisations allowed
to use Send (never personal Microsoft accounts), and, when Send mails through
Microsoft Graph, only people of the mailbox's own organisation, so the service
mailbox can never be made to write to arbitrary addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.model import Person

# The tenant of personal Microsoft accounts (outlook.com, hotmail.com, live.com).
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"

NOT_ALLOWED = "Send is not enabled for your organisation."
PERSONAL_ACCOUNT = (
    "Send is for work and school accounts; personal Microsoft accounts cannot use it."
)


@dataclass(frozen=True)
class TenantGate:
    """Which organisations may use Send (empty = any work or school organisation)."""

    allowed: frozenset[str] = frozenset()

    def refusal(self, tenant_id: str) -> str | None:
        """Why this organisation may not use Send, or None when it may."""
        if tenant_id.lower() == CONSUMER_TENANT:
            return PERSONAL_ACCOUNT
        if self.allowed and tenant_id not in self.allowed:
            return NOT_ALLOWED
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
