"""Names in every case variant, and renaming them safely through placeholders.

A model's name appears in many forms: ``digits-classifier-torch`` (the package), ``digits_classifier_torch``
(the module), ``DigitsClassifierTorch`` (a class), ``DIGITS_CLASSIFIER_TORCH`` (a constant), ``Digits
Classifier Torch`` (a title). Renaming one model into another, for the scaffold and for the ``with Old->New``
rules of an origin marker, must change every form at once, and only whole words: renaming ``torch`` must not
touch ``pytorch`` or ``torchvision``. Every match is first replaced by a placeholder and only then by its new
text, so the result of one rule can never be matched again by another, and names that must not change
(another package whose name contains the old one) are protected the same way.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass

VARIANT_KINDS = ("snake", "kebab", "upper", "camel", "lower_camel", "title", "words")
"""The case variants a name is renamed in: ``snake_case``, ``kebab-case``, ``UPPER_CASE``, ``CamelCase``,
``lowerCamelCase``, ``Title Case`` and ``lower case words``."""

PACKAGE_NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
"""A package name: lowercase words of letters and digits joined by hyphens, starting with a letter."""

_CAMEL_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+")
_SEPARATORS = re.compile(r"[-_\s]+")
_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")


def split_words(name: str) -> list[str]:
    """The lowercase words of ``name``, written in any case variant.

    Separators (hyphens, underscores, spaces) split words; a name without separators is split at its
    capital letters, so ``DigitsClassifier`` and ``digits-classifier`` give the same words.
    """
    if _SEPARATORS.search(name):
        return [word.lower() for word in _SEPARATORS.split(name.strip()) if word]
    return [word.lower() for word in _CAMEL_WORD.findall(name)]


def case_variants(words: list[str]) -> dict[str, str]:
    """The name made of ``words`` in every kind of :data:`VARIANT_KINDS`."""
    capitalised = [word[:1].upper() + word[1:] for word in words]
    return {
        "snake": "_".join(words),
        "kebab": "-".join(words),
        "upper": "_".join(words).upper(),
        "camel": "".join(capitalised),
        "lower_camel": words[0] + "".join(capitalised[1:]),
        "title": " ".join(capitalised),
        "words": " ".join(words),
    }


def module_name(package_name: str) -> str:
    """The importable module of a package: its name with underscores."""
    return package_name.replace("-", "_")


def package_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a package name, or ``None`` when it can."""
    if not PACKAGE_NAME_PATTERN.fullmatch(name):
        return (
            f"{name!r} is not a valid package name: use lowercase words of letters and digits joined by "
            "hyphens, starting with a letter, for example letters-classifier-torch"
        )
    if keyword.iskeyword(module_name(name)):
        return f"{name!r} is not a valid package name: its module {module_name(name)!r} is a Python keyword"
    return None


@dataclass(frozen=True)
class RenameRule:
    """One ``Old->New`` rule: every case variant of ``old`` becomes the same variant of ``new``."""

    old: str
    """The name to replace, in any case variant."""
    new: str
    """Its replacement, in any case variant."""

    @classmethod
    def parse(cls, text: str) -> RenameRule:
        """Read ``Old->New``; raises :class:`ValueError` saying what is wrong."""
        old, separator, new = text.partition("->")
        old, new = old.strip(), new.strip()
        if not separator or not split_words(old) or not split_words(new):
            raise ValueError(
                f"{text.strip()!r} is not a rename rule: write Old->New, for example Digits->Letters"
            )
        return cls(old, new)

    def __str__(self) -> str:
        return f"{self.old}->{self.new}"


class Renamer:
    """Applies rename rules to text in every case variant, through placeholders.

    ``protected`` names are left exactly as they are even when they contain an old name (for example the
    name of another package that starts with the renamed package's name).
    """

    def __init__(self, rules: Iterable[RenameRule], protected: Iterable[str] = ()) -> None:
        self.rules = tuple(rules)
        replacements: dict[str, _Replacement] = {}
        for rule in self.rules:
            old_variants = case_variants(split_words(rule.old))
            new_variants = case_variants(split_words(rule.new))
            for kind in VARIANT_KINDS:
                replacement = replacements.setdefault(old_variants[kind], _Replacement({}))
                replacement.by_kind.setdefault(kind, new_variants[kind])
        for name in protected:
            replacements.setdefault(name, _Replacement({"protected": name}))
        self._replacements = replacements
        alternatives = [_bounded(text) for text in sorted(replacements, key=lambda text: (-len(text), text))]
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def apply(self, text: str) -> str:
        """``text`` with every rule applied to every case variant of its old name."""
        if self._pattern is None:
            return text
        placed: list[str] = []

        def place(match: re.Match[str]) -> str:
            replacement = self._replacements[match.group(0)]
            placed.append(replacement.choose(match.string, match.start(), match.end()))
            return f"\x00{len(placed) - 1}\x00"

        with_placeholders = self._pattern.sub(place, text)
        return _PLACEHOLDER.sub(lambda match: placed[int(match.group(1))], with_placeholders)

    def changes(self, text: str) -> bool:
        """Whether applying the rules changes ``text``."""
        return self.apply(text) != text


def protected_names(rules: Iterable[RenameRule], names: Iterable[str]) -> list[str]:
    """The case variants of the package ``names`` that the ``rules`` must leave alone.

    Renaming ``digits-classifier`` must leave the package ``digits-classifier-large`` (and its module
    ``digits_classifier_large``) alone: a name that contains an old name, is not that name, and would be
    renamed into a package that does not exist is another package's, and is protected. A name that is
    renamed into an existing package (``alpha-model`` by ``alpha->beta`` when ``beta-model`` exists) is
    the family being renamed, and is not.
    """
    protected: list[str] = []
    names = set(names)
    for rule in rules:
        finder = Renamer([rule])
        for name in sorted(names):
            renamed = finder.apply(name)
            if split_words(name) != split_words(rule.old) and renamed != name and renamed not in names:
                protected.extend(case_variants(split_words(name)).values())
    return protected


@dataclass(frozen=True)
class _Replacement:
    """The new text for one old variant; several kinds when the old variants coincide (single words)."""

    by_kind: dict[str, str]

    def choose(self, text: str, start: int, end: int) -> str:
        """The new text for a match at ``text[start:end]``, chosen from its neighbours when ambiguous."""
        # A single-word old name is the same in snake, kebab and word form (and in camel and title form);
        # the form of code comes first and is the default, a hyphenated neighbour asks for kebab case.
        beside_hyphen = text[start - 1 : start] == "-" or text[end : end + 1] == "-"
        if beside_hyphen and "kebab" in self.by_kind:
            return self.by_kind["kebab"]
        return next(iter(self.by_kind.values()))


def _bounded(variant: str) -> str:
    """A pattern matching ``variant`` only as whole words of an identifier or a sentence."""
    if variant[:2].istitle():
        before = ""  # a capitalised word starts a new word after any letter: ``ONNXTorch``, ``MyTorch``
    elif variant[0].isupper():
        before = r"(?<![A-Z0-9])"
    else:
        before = r"(?<![A-Za-z0-9])"
    # After an upper-case end only a capitalised word may follow (``ONNXPredictor``), else a new word.
    after = r"(?![a-z0-9]|[A-Z](?![a-z]))" if variant[-1].isupper() else r"(?![a-z0-9])"
    return before + re.escape(variant) + after
