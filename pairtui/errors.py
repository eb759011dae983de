"""The one exception type that reaches users as a readable message."""

from __future__ import annotations


class PairtuiError(Exception):
    """An error whose message is meant for the user, shown without a traceback."""

    def to_json(self) -> dict[str, object]:
        """What ``--json`` prints on standard output instead of a result."""
        return {"error": str(self)}
