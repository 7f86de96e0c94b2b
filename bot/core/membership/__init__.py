"""People and groups: who someone is, their groups and members, who can be reached, notices."""
