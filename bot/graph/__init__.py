"""Microsoft Graph: one client (tokens, retries, mailbox concurrency) that the Outlook and
Teams edges share."""
