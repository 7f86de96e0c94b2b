"""A Teams turn: the entry point, the command table and its handlers, card actions, held messages."""
