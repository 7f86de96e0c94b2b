"""Accepting and delivering messages: the relay, the worker, attempts, pacing, the Outlook thread."""
