"""The ``zoo`` command: the repository tool of the model zoo.

Run it from anywhere inside the repository (``uv run zoo --help``). Its commands:

- ``check-copies``: compare every copy with its origin, report drift as diffs, rewrite copies (``--fix``);
- ``new-model``: create a model package as a marked copy of an existing one;
- ``check``: every repository check (isolation, locks, Python versions, declarations, copies, abbreviations);
- ``list``: every package with its kind, stage, framework, version and coverage.

Exit status: 0 when everything holds, 1 when a check found problems, 2 when the command could not run
(a wrong option, a missing package, a refused name).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from zoo.checks import CHECKS
from zoo.copies import check_copies, fix_copies, format_report
from zoo.discovery import DiscoveryError, discover_packages, repository_root
from zoo.files import ZooError, counted, display_path
from zoo.listing import format_listing, list_packages
from zoo.runs import collect_runs, format_runs
from zoo.scaffold import new_model

SUCCESS, PROBLEMS_FOUND, CANNOT_RUN = 0, 1, 2
"""The exit statuses."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``zoo`` with its four commands."""
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="The repository tool of the model zoo: copy checks, the new-model scaffold, the "
        "repository checks and the package listing.",
        epilog="Exit status: 0 when everything holds, 1 when a check found problems, 2 when the command "
        "could not run.",
    )
    parser.add_argument(
        "--root",
        type=Path,
        metavar="DIRECTORY",
        help="the repository's root (default: $ZOO_ROOT, else the folder above the current one that holds "
        "packages/ and shared-contracts/)",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="the command to run"
    )

    copies = commands.add_parser(
        "check-copies",
        help="compare every copy with its origin and report drift",
        description="Compare every copy marked '# Copied from <package>:<module>.<object>' with its origin, "
        "after its rename rules and ignoring formatting, and show each drift as a unified diff with the file "
        "and line of both sides.",
    )
    copies.add_argument("--fix", action="store_true", help="rewrite every drifted copy from its origin")
    copies.add_argument(
        "--report",
        action="store_true",
        help="list every copy with its origin, its lines and its status (in sync, drifted, diverged)",
    )
    copies.add_argument(
        "--origin",
        metavar="ORIGIN",
        help="only the copies of this origin: a package (digits-classifier-torch), a module "
        "(digits-classifier-torch:digits_classifier_torch.model) or an object; shows the list of them, "
        "so that an edit to an origin can be carried to its copies",
    )

    scaffold = commands.add_parser(
        "new-model",
        help="create a model package as a marked copy of an existing one",
        description="Create packages/<name> as a copy of an existing package: every case variant of the "
        "name renamed, an origin marker above every top-level object of the model's modules, version 0.1.0, "
        "stage experimental, no baseline or run outputs, a README model card to fill in, its own uv.lock. "
        "Missing options are asked for when the input is a terminal.",
    )
    scaffold.add_argument(
        "--from",
        dest="origin",
        metavar="PACKAGE",
        help="the existing package to copy, for example digits-classifier-torch",
    )
    scaffold.add_argument(
        "--name", metavar="NAME", help="the new package's name: lowercase words joined by hyphens"
    )
    scaffold.add_argument(
        "--description", metavar="TEXT", help="the new package's one-line description (default: the origin's)"
    )
    scaffold.add_argument(
        "--skip-lock",
        action="store_true",
        help="do not run `uv lock` in the new package: its lock stays the origin's, renamed (run `uv lock` "
        "yourself before testing the package)",
    )

    check = commands.add_parser(
        "check",
        help="run the repository checks",
        description="Run the repository checks and report every problem with its file and line.",
    )
    check.add_argument(
        "checks",
        nargs="*",
        metavar="CHECK",
        help=f"the checks to run (default: all): {', '.join(CHECKS)}",
    )

    listing = commands.add_parser(
        "list",
        help="list every package with its stage and coverage",
        description="List every package with its kind, stage, framework, version and the coverage of its "
        "last test run (read from the coverage.json report that the package's last tox run left in its folder).",
    )
    listing.add_argument(
        "--format", dest="output_format", choices=("text", "json"), default="text", help="the output format"
    )

    runs = commands.add_parser(
        "runs",
        help="list every model's training runs against its baseline",
        description="List the training runs of every model (runs/<model>/<run>/run.json under $ZOO_HOME or the "
        "repository's root) with their final metrics, each with its difference from the model's committed "
        "baseline.",
    )
    runs.add_argument("--model", help="only this model package's runs")
    runs.add_argument(
        "--runs-directory", type=Path, help="the folder of runs/<model>/<run> (default: runs/ at the root)"
    )
    runs.add_argument(
        "--format", dest="output_format", choices=("text", "json"), default="text", help="the output format"
    )
    return parser


def main(arguments: list[str] | None = None) -> int:
    """Run ``zoo`` with ``arguments`` (default: the command line); returns the exit status."""
    options = build_parser().parse_args(arguments)
    try:
        root = (options.root or repository_root()).resolve()
        return COMMANDS[options.command](root, options)
    except (ZooError, DiscoveryError) as error:
        print(f"zoo {options.command}: error: {error}", file=sys.stderr)
        return CANNOT_RUN


def _check_copies(root: Path, options: argparse.Namespace) -> int:
    """``zoo check-copies``."""
    if options.fix:
        report, fixed = fix_copies(root, options.origin)
        for result in fixed:
            print(f"rewrote {result.copy.location(root)} from {result.marker.describe_origin()}")
    else:
        report = check_copies(root, options.origin)
    print(format_report(report, root, table=options.report or options.origin is not None))
    return SUCCESS if report.passed else PROBLEMS_FOUND


def _new_model(root: Path, options: argparse.Namespace) -> int:
    """``zoo new-model``, asking for missing options on a terminal."""
    origin = options.origin or _ask(
        "the package to copy",
        "--from",
        [package.name for package in discover_packages(root)],
    )
    name = options.name or _ask("the new package's name (lowercase words joined by hyphens)", "--name", [])
    result = new_model(root, origin, name, description=options.description, lock=not options.skip_lock)
    location = display_path(result.directory, root)
    print(f"created {location}: {counted(result.files, 'file')}, {counted(result.markers, 'origin marker')}")
    next_steps = [
        f"fill in the model card, {location}/README.md",
        f"run its tests: tox -e {result.directory.name}-py311",
        f"see what it shares with {origin}: uv run zoo check-copies --origin {origin}",
    ]
    if not result.locked:
        next_steps.insert(0, f"update its lock (the origin's, renamed): uv lock --directory {location}")
    print("next:\n" + "\n".join(f"  - {step}" for step in next_steps))
    return SUCCESS


def _ask(question: str, option: str, choices: list[str]) -> str:
    """Ask for a missing option on a terminal; raises :class:`ZooError` when the input is not one."""
    if not sys.stdin.isatty():
        listed = f" (one of: {', '.join(choices)})" if choices else ""
        raise ZooError(f"give {option}{listed}; the input is not a terminal, so it cannot be asked for")
    if choices:
        print("packages: " + ", ".join(choices))
    try:
        answer = input(f"{question}: ").strip()
    except EOFError:
        answer = ""
    if not answer:
        raise ZooError(f"no answer for {option}: nothing was created")
    return answer


def _check(root: Path, options: argparse.Namespace) -> int:
    """``zoo check``: the selected checks (default: all), each with its findings."""
    unknown = [name for name in options.checks if name not in CHECKS]
    if unknown:
        raise ZooError(f"unknown check {', '.join(unknown)}: choose from {', '.join(CHECKS)}")
    total = 0
    summary = []
    for name in options.checks or CHECKS:
        started = time.perf_counter()
        findings = CHECKS[name](root)
        elapsed = time.perf_counter() - started
        total += len(findings)
        print(f"== {name}: {counted(len(findings), 'problem') if findings else 'ok'} ({elapsed:.1f} s)")
        for finding in findings:
            print(finding.describe(root))
        summary.append(f"{name} {len(findings)}")
    print(f"zoo check: {counted(total, 'problem')} ({', '.join(summary)})")
    return SUCCESS if total == 0 else PROBLEMS_FOUND


def _list(root: Path, options: argparse.Namespace) -> int:
    """``zoo list``."""
    print(format_listing(list_packages(root), options.output_format))
    return SUCCESS


def _runs(root: Path, options: argparse.Namespace) -> int:
    """``zoo runs``."""
    print(format_runs(collect_runs(root, options.runs_directory, options.model), options.output_format))
    return SUCCESS


COMMANDS = {
    "check-copies": _check_copies,
    "new-model": _new_model,
    "check": _check,
    "list": _list,
    "runs": _runs,
}
"""Each command's function, by name."""
