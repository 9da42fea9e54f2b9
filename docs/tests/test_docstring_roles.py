"""The griffe extension that turns Sphinx roles in docstrings into Markdown code spans."""

from __future__ import annotations

import griffe
from docstring_roles import SphinxRolesToCodeSpans, rewrite_roles


def test_every_form_of_role_becomes_a_code_span():
    assert rewrite_roles("Raises :class:`ContractError`.") == "Raises `ContractError`."
    assert rewrite_roles("See :py:func:`platform.platform`.") == "See `platform.platform`."
    assert rewrite_roles("One of :data:`~zoo.discovery.STAGES`.") == "One of `STAGES`."
    assert rewrite_roles("The :class:`record <shared_contracts.RunRecord>`.") == "The `record`."
    assert rewrite_roles("Not linked: :meth:`!save`.") == "Not linked: `save`."
    assert rewrite_roles("Plain ``code`` and `span` stay.") == "Plain ``code`` and `span` stay."


def test_griffe_applies_it_to_every_docstring_it_reads():
    code = '''
"""The module, see :mod:`json`."""

VALUE = 1
"""A value, see :func:`helper`."""


def helper():
    """Help; raises :exc:`ValueError`."""


def undocumented():
    pass
'''
    extensions = griffe.load_extensions(SphinxRolesToCodeSpans)
    with griffe.temporary_visited_module(code, extensions=extensions) as module:
        assert module.docstring.value == "The module, see `json`."
        assert module["VALUE"].docstring.value == "A value, see `helper`."
        assert module["helper"].docstring.value == "Help; raises `ValueError`."
        assert module["undocumented"].docstring is None
