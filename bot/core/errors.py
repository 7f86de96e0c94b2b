"""The core's one error type for product rules."""

from __future__ import annotations


class Refused(Exception):
    """A request that breaks a rule; the text is the one line shown to the person.

    Raised before anything is written, so a refused request leaves nothing half-done.
    """
