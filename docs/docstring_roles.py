"""A griffe extension for the API reference: Sphinx roles in docstrings become Markdown code spans.

The docstrings of the repository name other objects the way Sphinx does (``:class:`ContractError```,
``:data:`STAGES```, ``:func:`platform.platform```). mkdocstrings renders Markdown, where such a role would
show up as stray colons around a code span, so this extension rewrites every role into a plain code span
before the docstring is parsed: ``:class:`ContractError``` becomes ```ContractError```, a leading ``~``
keeps only the last dotted component, and ``:role:`text <target>``` keeps the text. It is loaded by the
``extensions`` option of the mkdocstrings handler in ``mkdocs.yml``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE_PATTERN = re.compile(r":(?:[A-Za-z][\w-]*:)?[A-Za-z][\w-]*:`(?P<content>[^`]+)`")
"""A Sphinx role, with an optional domain (``:py:class:`...```)."""

EXPLICIT_TITLE_PATTERN = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$")
"""The ``title <target>`` form of a role's content."""


def role_to_code_span(match: re.Match[str]) -> str:
    """The Markdown code span that replaces one Sphinx role."""
    content = match.group("content").strip()
    explicit = EXPLICIT_TITLE_PATTERN.match(content)
    if explicit:
        content = explicit.group("title")
    elif content.startswith("~"):
        content = content[1:].rsplit(".", 1)[-1]
    return f"`{content.lstrip('!')}`"


def rewrite_roles(text: str) -> str:
    """``text`` with every Sphinx role replaced by a Markdown code span."""
    return ROLE_PATTERN.sub(role_to_code_span, text)


class SphinxRolesToCodeSpans(griffe.Extension):
    """Rewrites the Sphinx roles of every docstring as soon as griffe has read the object."""

    def on_instance(self, *, obj: griffe.Object, **keyword_arguments: Any) -> None:
        """Rewrite the docstring of one object (module, class, function or attribute)."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite_roles(obj.docstring.value)
