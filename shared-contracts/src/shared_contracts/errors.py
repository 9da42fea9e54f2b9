"""The one error type of the contracts, so that every rejection names what was wrong and where."""

from __future__ import annotations

from pathlib import Path


class ContractError(ValueError):
    """A file or a value does not satisfy a contract.

    The message always says which file (``source``) and which field were wrong, so that a user who sees
    it knows what to open and what to change without reading a traceback.
    """

    def __init__(self, reason: str, *, source: str | Path | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.source = None if source is None else str(source)
        self.field = field
        location = []
        if self.source is not None:
            location.append(self.source)
        if field is not None:
            location.append(f"field '{field}'")
        prefix = ", ".join(location)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)
