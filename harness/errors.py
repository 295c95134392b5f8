"""User-facing errors: one line that says what is wrong and what to do.

Anything raised as :class:`UserError` is printed by the CLI as a single line with a non-zero exit
status and no traceback. Library code raises it for every bad input (unknown names, malformed files,
impossible options); any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib


class UserError(Exception):
    """A problem with the user's input, reported as one line."""


def did_you_mean(name: str, choices) -> str:
    """Return ' (did you mean X?)' when a close match exists, else ''."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class SkipRun(Exception):
    """Raised by a method's ``prepare`` (or a task's ``setup``) when it cannot handle the run, e.g. a
    method that needs a ProbLog program on a task without one, or a package missing on this
    platform. The harness records the run with status ``skipped`` and this reason."""
