"""The Outlook edge: the group's mail thread, its Actionable Message card, and action tokens."""
