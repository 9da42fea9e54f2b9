"""The abbreviation check: public names, command-line options and documentation use full words.

Three sources are read: the public names of every package's source (modules, classes, functions, methods,
constants, fields and parameters that do not start with an underscore), the command-line options and
commands declared with argparse (``add_argument``, ``add_parser``) or click (``option``), and the prose of
every Markdown file (code blocks, inline code, links and addresses are left out). Each word is looked up in
:data:`ABBREVIATIONS`, which knows the full word to use. In documentation and in ``CamelCase`` names an
upper-case word (an acronym) must be an established term of :data:`ALLOWED_TERMS` or be defined in the same
document at its first use, as in ``Open Neural Network Exchange (ONNX)``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from zoo.discovery import PACKAGES_DIRECTORY, SHARED_CONTRACTS_DIRECTORY
from zoo.files import Finding, walk_files


@dataclass(frozen=True)
class Abbreviation:
    """A common abbreviation and the full words to write instead."""

    full: tuple[str, ...]
    """The full words, lowercase; the first is the usual meaning when there are several."""
    in_prose: bool = True
    """Whether it is checked in documentation too (``False`` where it is also an English word)."""
    alternative: str = ""
    """Another meaning, for abbreviations that stand for more than one word (``val``: value or validation)."""


def _entry(full: str, *, in_prose: bool = True, alternative: str = "") -> Abbreviation:
    return Abbreviation(tuple(full.split()), in_prose, alternative)


ABBREVIATIONS: dict[str, Abbreviation] = {
    "acc": _entry("accuracy"),
    "addr": _entry("address"),
    "approx": _entry("approximately"),
    "arg": _entry("argument"),
    "args": _entry("arguments"),
    "attn": _entry("attention"),
    "avg": _entry("average"),
    "bn": _entry("batch normalisation"),
    "bs": _entry("batch size"),
    "buf": _entry("buffer"),
    "calc": _entry("calculate"),
    "cb": _entry("callback"),
    "cfg": _entry("configuration"),
    "chkpt": _entry("checkpoint"),
    "ckpt": _entry("checkpoint"),
    "ckpts": _entry("checkpoints"),
    "cnt": _entry("count"),
    "conf": _entry("configuration"),
    "config": _entry("configuration"),
    "configs": _entry("configurations"),
    "conv": _entry("convolution"),
    "ctx": _entry("context"),
    "cur": _entry("current", in_prose=False),
    "curr": _entry("current"),
    "db": _entry("database"),
    "dest": _entry("destination"),
    "dim": _entry("dimension", in_prose=False),
    "dims": _entry("dimensions"),
    "dir": _entry("directory"),
    "dirs": _entry("directories"),
    "dl": _entry("data loader", in_prose=False),
    "doc": _entry("document", in_prose=False),
    "docs": _entry("documentation"),
    "ds": _entry("dataset", in_prose=False),
    "dst": _entry("destination"),
    "emb": _entry("embedding"),
    "embs": _entry("embeddings"),
    "env": _entry("environment"),
    "envs": _entry("environments"),
    "eps": _entry("epsilon", in_prose=False),
    "err": _entry("error"),
    "eval": _entry("evaluation", alternative="evaluate"),
    "fc": _entry("fully connected"),
    "feat": _entry("feature", in_prose=False),
    "feats": _entry("features"),
    "fn": _entry("function"),
    "func": _entry("function"),
    "gt": _entry("ground truth", in_prose=False),
    "hparams": _entry("hyperparameters"),
    "hyperparams": _entry("hyperparameters"),
    "idx": _entry("index"),
    "idxs": _entry("indices"),
    "img": _entry("image"),
    "imgs": _entry("images"),
    "impl": _entry("implementation"),
    "info": _entry("information"),
    "iter": _entry("iteration", in_prose=False, alternative="iterate"),
    "kwargs": _entry("keyword arguments"),
    "lbl": _entry("label"),
    "len": _entry("length", in_prose=False),
    "lib": _entry("library"),
    "libs": _entry("libraries"),
    "ln": _entry("layer normalisation", in_prose=False),
    "lr": _entry("learning rate"),
    "mem": _entry("memory"),
    "mgr": _entry("manager"),
    "msg": _entry("message"),
    "msgs": _entry("messages"),
    "num": _entry("number"),
    "obj": _entry("object"),
    "optim": _entry("optimizer"),
    "param": _entry("parameter"),
    "params": _entry("parameters"),
    "pkg": _entry("package"),
    "pkgs": _entry("packages"),
    "pred": _entry("prediction"),
    "preds": _entry("predictions"),
    "prev": _entry("previous"),
    "prob": _entry("probability"),
    "probs": _entry("probabilities"),
    "proc": _entry("process"),
    "ptr": _entry("pointer"),
    "px": _entry("pixel", in_prose=False),
    "repo": _entry("repository"),
    "repos": _entry("repositories"),
    "req": _entry("request"),
    "res": _entry("result", in_prose=False, alternative="resolution"),
    "resp": _entry("response"),
    "ret": _entry("result", in_prose=False),
    "sched": _entry("scheduler"),
    "seq": _entry("sequence"),
    "seqs": _entry("sequences"),
    "spec": _entry("specification"),
    "specs": _entry("specifications"),
    "src": _entry("source", in_prose=False),
    "stats": _entry("statistics"),
    "std": _entry("standard deviation", in_prose=False),
    "sz": _entry("size"),
    "temp": _entry("temporary", alternative="temperature"),
    "tmp": _entry("temporary"),
    "tok": _entry("token"),
    "toks": _entry("tokens"),
    "util": _entry("utility"),
    "utils": _entry("utilities"),
    "val": _entry("validation", in_prose=False, alternative="value"),
    "vals": _entry("values"),
    "var": _entry("variable", in_prose=False, alternative="variance"),
    "ver": _entry("version"),
    "vocab": _entry("vocabulary"),
}
"""Common abbreviations (lowercase) and their full words. Extend it when a new one turns up."""

NUMBER_PREFIXES = frozenset({"n", "num", "nb"})
"""Abbreviations of "number of" when they start a name of several words: ``n_layers``, ``num_epochs``."""

PROSE_ABBREVIATIONS = {"e.g.": "for example", "i.e.": "that is", "etc": "and so on", "vs": "versus"}
"""Abbreviations of running text, with what to write instead."""

_PROSE_PATTERNS = {
    short: re.compile(
        r"(?<![\w.])" + re.escape(short) + (r"(?![\w])" if short[-1] != "." else ""), re.IGNORECASE
    )
    for short in PROSE_ABBREVIATIONS
}

ALLOWED_TERMS = frozenset(
    """
    AI API APIs ASCII AWS BERT BSD CI CLI CNN CPU CPUs CSS CSV CUDA DNS EOF FAQ GB GCP GIF GPL GPT GPU GPUs
    GRPC HTML HTTP HTTPS ID IDs IEEE IO IP ISO JAX JPEG JSON KB KiB GiB MiB LLM LSTM MB MIT ML MLP MNIST
    NCHW NHWC NLP NVIDIA OK ONNX OS PATH HOME PDF PEP PID PNG POSIX PR RAM REST RGB RNN SDK SGD SHA SQL SSH
    SSL TB TCP TLS TOML TPU TPUs TTS UDP UI URI URL URLs UTC UTF UUID VRAM XML YAML README CHANGELOG
    LICENSE TODO NOTE WARNING IMPORTANT A I NOT MUST NEVER ALWAYS ONLY ALL NO YES AND OR IS ARE DO DOES BE
    THE ROC AUC MSE MAE XLA JIT AMD ARM CUDNN ECMA FIFO LIFO UCI CC BY SA NC ND SPDX NNX NCCL
    """.split()  # noqa: SIM905 - a list of words is easier to read and extend as text
)
"""Upper-case words that are established terms (and emphasised English words), allowed anywhere."""

_NAME_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+|[^A-Za-z0-9]+")
_PROSE_TOKEN = re.compile(r"\S+")
_INLINE_CODE = re.compile(r"(`+).*?\1")
_LINK_TARGET = re.compile(r"\]\([^)]*\)|\]\[[^\]]*\]|^\s*\[[^\]]+\]:\s*\S+.*$")
_ADDRESS = re.compile(r"<[^>\s]+>|https?://\S+|<!--.*?-->|<[^>]+>")
_DEFINITION = re.compile(r"\(([A-Z][A-Za-z]*[A-Z]s?)\)")
_FENCE = re.compile(r"^\s*(```+|~~~+)")


def name_problems(name: str, *, acronyms: bool = True) -> list[str]:
    """What is abbreviated in the identifier ``name`` (snake, kebab, camel or upper case), with the fix.

    The abbreviations of the dictionary give one message that names them and the whole name written out,
    for example ``'cfg' is an abbreviation: write train_configuration``. Upper-case words in a camel-case
    name are checked against :data:`ALLOWED_TERMS` when ``acronyms`` is true.
    """
    parts = _NAME_PARTS.findall(name)
    words = [index for index, part in enumerate(parts) if part[0].isalnum()]
    separator = "-" if "-" in name else "_"
    camel = all(part[0].isalnum() for part in parts) and not name.isupper() and not name.islower()
    rewritten = list(parts)
    abbreviated = []
    problems = []
    for position, index in enumerate(words):
        part = parts[index]
        key = part.lower().rstrip("0123456789")
        if key in NUMBER_PREFIXES and position == 0 and len(words) > 1:
            full: tuple[str, ...] = ("number", "of")
        elif key in ABBREVIATIONS and part not in ALLOWED_TERMS:
            full = ABBREVIATIONS[key].full
        else:
            if acronyms and camel and len(key) > 1 and part.isupper() and key.upper() not in ALLOWED_TERMS:
                problems.append(_acronym_message(part))
            continue
        rewritten[index] = _render(full, part, separator, camel=camel) + part[len(key) :]
        abbreviated.append(f"{part!r}{_alternative(key)}")
    if abbreviated:
        verb = "is an abbreviation" if len(abbreviated) == 1 else "are abbreviations"
        problems.insert(0, f"{' and '.join(abbreviated)} {verb}: write {''.join(rewritten)}")
    return problems


def _render(full: tuple[str, ...], part: str, separator: str, *, camel: bool) -> str:
    """The full words in the case of the abbreviated ``part``: camel, upper, or lowercase with separators."""
    if camel:
        capitalised = [word.capitalize() for word in full]
        return (full[0] if part[0].islower() else capitalised[0]) + "".join(capitalised[1:])
    if len(part) > 1 and part.isupper():
        return separator.join(full).upper()
    return separator.join(full)


def _alternative(key: str) -> str:
    """`` (first meaning or second meaning)`` for an abbreviation with two meanings, else nothing."""
    entry = ABBREVIATIONS.get(key)
    if entry is not None and entry.alternative:
        return f" ({' '.join(entry.full)} or {entry.alternative})"
    return ""


def _acronym_message(word: str) -> str:
    return (
        f"{word!r} looks like an abbreviation: write it out in full, define it once as 'Full Words ({word})', "
        "or, if it is an established term, add it to ALLOWED_TERMS in tools/zoo/abbreviations.py"
    )


def check_abbreviations(root: Path) -> list[Finding]:
    """Every abbreviation in the public names, command-line options and documentation of the repository."""
    findings: list[Finding] = []
    for directory in source_directories(root):
        for path in walk_files(directory, ".py"):
            findings.extend(check_python_file(path, directory))
    for path in walk_files(root, ".md"):
        findings.extend(check_markdown_file(path))
    return findings


def source_directories(root: Path) -> list[Path]:
    """The folders whose public names are checked: each package's ``src``, the contracts', the tool's."""
    directories = sorted((root / PACKAGES_DIRECTORY).glob("*/src"))
    directories += [root / SHARED_CONTRACTS_DIRECTORY / "src", root / "tools" / "zoo"]
    return [directory for directory in directories if directory.is_dir()]


def check_python_file(path: Path, source_root: Path) -> list[Finding]:
    """The abbreviations of one source file's module name, public names and command-line options."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as error:
        return [Finding(path, getattr(error, "lineno", 0) or 0, f"the file cannot be parsed ({error})")]
    findings = []
    module_parts = path.relative_to(source_root).with_suffix("").parts
    if not any(part.startswith("_") for part in module_parts):
        for problem in name_problems(module_parts[-1]):
            findings.append(Finding(path, 0, f"module name {module_parts[-1]}: {problem}"))
    if path.name.startswith("_") and path.name != "__init__.py":
        public: list[tuple[str, int, str]] = []
    else:
        public = list(_public_names(tree.body, "module"))
    for what, line, name in public + list(_options(tree)):
        for problem in name_problems(name):
            findings.append(Finding(path, line, f"{what} {name}: {problem}"))
    return findings


def _public_names(body: list[ast.stmt], scope: str) -> list[tuple[str, int, str]]:
    """``(what, line, name)`` of every public name defined in ``body`` (a module's or a public class's)."""
    names: list[tuple[str, int, str]] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if _private(node.name):
                continue
            names.append(("method" if scope == "class" else "function", node.lineno, node.name))
            arguments = node.args
            for argument in [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                *[argument for argument in (arguments.vararg, arguments.kwarg) if argument is not None],
            ]:
                if argument.arg not in ("self", "cls") and not _private(argument.arg):
                    names.append(("parameter", argument.lineno, argument.arg))
        elif isinstance(node, ast.ClassDef):
            if not _private(node.name):
                names.append(("class", node.lineno, node.name))
                names.extend(_public_names(node.body, "class"))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and not _private(target.id):
                    names.append(("field" if scope == "class" else "name", node.lineno, target.id))
    return names


def _private(name: str) -> bool:
    return name.startswith("_")


def _options(tree: ast.Module) -> list[tuple[str, int, str]]:
    """``(what, line, name)`` of every command-line option, argument and command declared in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        strings = [
            argument.value
            for argument in node.args
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        ]
        if called == "add_parser" and strings:
            found.append(("command", node.lineno, strings[0]))
        elif called in ("add_argument", "option", "argument"):
            for text in strings:
                if text.startswith("--") or not text.startswith("-"):
                    found.append(("option" if text.startswith("-") else "argument", node.lineno, text))
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg in ("dest", "metavar") and isinstance(value, ast.Constant):
                    found.append((keyword.arg, node.lineno, str(value.value)))
    return found


def check_markdown_file(path: Path) -> list[Finding]:
    """The abbreviations of one Markdown file's prose, with the line and the words to write instead."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return [Finding(path, 0, f"the file is not UTF-8 text ({error})")]
    prose = list(_prose_lines(text))
    defined = {match.group(1) for _, line in prose for match in _DEFINITION.finditer(line)}
    defined |= {term[:-1] for term in defined if term.endswith("s")}
    findings = []
    for number, line in prose:
        for short, full in PROSE_ABBREVIATIONS.items():
            if _PROSE_PATTERNS[short].search(line):
                findings.append(Finding(path, number, f"{short!r} is an abbreviation: write {full!r}"))
        for token in _PROSE_TOKEN.findall(line):
            findings.extend(Finding(path, number, problem) for problem in _token_problems(token, defined))
    return findings


def _token_problems(token: str, defined: set[str]) -> list[str]:
    """The abbreviations in one whitespace-separated token of prose."""
    word = token.strip(".,;:!?()[]{}\"'*_~>|")
    if not word or any(character in word for character in "/\\._=@#$%&+<>`") or word.startswith("-"):
        return []  # paths, file names, identifiers, options: code, not prose
    problems = []
    for part in word.split("-"):
        stem = part[:-2] if part.endswith("'s") else part
        if not stem.isalpha():
            continue
        key = stem.lower()
        entry = ABBREVIATIONS.get(key)
        singular = stem[:-1] if stem.endswith("s") else stem
        if entry is not None and entry.in_prose and stem not in ALLOWED_TERMS:
            problems.append(f"{stem!r} is an abbreviation{_alternative(key)}: write {' '.join(entry.full)!r}")
        elif len(singular) > 1 and singular.isupper() and not {stem, singular} & (ALLOWED_TERMS | defined):
            problems.append(_acronym_message(stem))
    return problems


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of the prose of a Markdown document, without code, links and markup."""
    lines = []
    fence: str | None = None
    in_comment = False
    front_matter = text.startswith("---\n")
    for number, line in enumerate(text.splitlines(), start=1):
        if front_matter:
            front_matter = not (number > 1 and line.strip() in ("---", "..."))
            continue
        fence_match = _FENCE.match(line)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
            ):
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            continue
        if in_comment:
            if "-->" not in line:
                continue
            line = line.split("-->", 1)[1]
            in_comment = False
        if line.rfind("<!--") > line.rfind("-->"):  # a comment opens and goes on below
            line = line[: line.rfind("<!--")]
            in_comment = True
        if line.lstrip().startswith(":::"):
            continue  # a documentation generator's directive, not prose
        line = _INLINE_CODE.sub(" ", line)
        line = _LINK_TARGET.sub("] ", line)
        line = _ADDRESS.sub(" ", line)
        lines.append((number, line))
    return lines
