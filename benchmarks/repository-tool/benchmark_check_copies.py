"""How long `zoo check-copies` takes on a repository with several models (the target: under 2 seconds).

It builds a synthetic repository in a temporary folder: one origin model and N - 1 copies of it, each model
file about 770 lines with 60 top-level objects, every object of every copy carrying an origin marker with a
rename rule, one marked section per copy, and a few copies drifted on purpose so that diffs are computed.
Then it times, as medians over several runs:

- the baseline, reading and parsing every Python file of the packages (the floor of any check that looks at
  the code as Python);
- the copy check in the same process (what `zoo check` spends on copies);
- `python -m zoo check-copies` as a separate process, start-up and imports included (what a person waits).

Run from the repository's root:

    uv run python benchmarks/repository-tool/benchmark_check_copies.py [--models 10] [--runs 7]
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from zoo.copies import DRIFTED, check_copies  # noqa: E402
from zoo.files import walk_files  # noqa: E402
from zoo.naming import Renamer, RenameRule  # noqa: E402

OBJECTS_PER_MODEL = 60
DRIFTED_PER_COPY = 2


def model_text(name: str) -> str:
    """The model file of the origin: configuration, functions and classes, about 15 lines each."""
    camel = "".join(word.capitalize() for word in name.split("-"))
    parts = [
        f'"""The {name} model: one file, the whole pipeline."""\n\nimport dataclasses\nimport math\n\n',
        f"# Origin section constants\n{name.replace('-', '_').upper()}_SEED = 7\nWIDTH = 64\n# End origin section\n",
    ]
    for index in range(OBJECTS_PER_MODEL):
        if index % 3 == 0:
            parts.append(
                textwrap.dedent(
                    f'''

                    @dataclasses.dataclass
                    class {camel}Part{index}:
                        """Part {index} of the {name} model."""

                        width: int = {index + 1}
                        """How wide the part is."""

                        def forward(self, values: list[float]) -> list[float]:
                            """Scale every value (part {index})."""
                            # scale, then shift
                            return [value * self.width + {index} for value in values]
                    '''
                )
            )
        else:
            parts.append(
                textwrap.dedent(
                    f'''

                    def step_{index}(values: list[float], learning_rate: float = 0.{index + 1}) -> float:
                        """One step of the {name} model's training ({index})."""
                        total = 0.0
                        for position, value in enumerate(values):
                            if position % 2:
                                total += math.sqrt(abs(value)) * learning_rate
                            else:
                                total -= value / (position + 1)
                        return total
                    '''
                )
            )
    return "".join(parts)


def marked_copy(origin: str, name: str, drifted: int) -> str:
    """The origin's model file renamed to ``name`` with a marker above every object; ``drifted`` changed."""
    module = origin.replace("-", "_")
    rule = RenameRule(origin, name)
    tree = ast.parse(model_text(origin))
    lines = Renamer([rule]).apply(model_text(origin)).splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            start = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            lines.insert(start - 1, f"# Copied from {origin}:{module}.model.{node.name} with {rule}\n")
    text = "".join(lines)
    text = text.replace(
        "# Origin section constants", f"# Copied from {origin}:{module}.model section constants with {rule}"
    ).replace("# End origin section", "# End copy")
    # The first steps of each copy divide by one more: drift the check must find and show.
    text = text.replace("total -= value / (position + 1)", "total -= value / (position + 2)", drifted)
    return text


def build_repository(directory: Path, models: int) -> tuple[int, int]:
    """The synthetic repository; returns how many Python files and lines its packages hold."""
    (directory / "shared-contracts" / "src" / "shared_contracts").mkdir(parents=True)
    (directory / "shared-contracts" / "src" / "shared_contracts" / "__init__.py").write_text(
        '"""Contracts."""\n'
    )
    names = [f"benchmark-model-{chr(ord('a') + index)}" for index in range(models)]
    for index, name in enumerate(names):
        module = name.replace("-", "_")
        source = directory / "packages" / name / "src" / module
        source.mkdir(parents=True)
        (directory / "packages" / name / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
        (source / "__init__.py").write_text(f'"""The {name} package."""\n')
        text = model_text(name) if index == 0 else marked_copy(names[0], name, DRIFTED_PER_COPY)
        (source / "model.py").write_text(text)
        tests = directory / "packages" / name / "tests"
        tests.mkdir()
        (tests / "test_model.py").write_text(
            f"import {module}.model\n\n\ndef test_it():\n    assert {module}.model\n"
        )
    files = list(walk_files(directory / "packages", ".py"))
    return len(files), sum(len(path.read_text().splitlines()) for path in files)


def median_seconds(function, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def parse_everything(root: Path) -> None:
    for path in walk_files(root / "packages", ".py"):
        ast.parse(path.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10, help="how many models the repository holds")
    parser.add_argument("--runs", type=int, default=7, help="how many runs each median is taken over")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoo-benchmark-") as temporary:
        root = Path(temporary)
        files, lines = build_repository(root, options.models)
        report = check_copies(root)
        assert not report.problems, report.problems
        copies = len(report.results)
        drifted = report.count(DRIFTED)
        baseline = median_seconds(lambda: parse_everything(root), options.runs)
        in_process = median_seconds(lambda: check_copies(root), options.runs)
        environment = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
        command = [sys.executable, "-m", "zoo", "--root", str(root), "check-copies"]
        whole_command = median_seconds(
            lambda: subprocess.run(command, env=environment, capture_output=True, check=False), options.runs
        )
    print(
        f"repository: {options.models} models, {files} Python files, {lines} lines, {copies} copies "
        f"({drifted} drifted); medians of {options.runs} runs, Python {sys.version.split()[0]}"
    )
    print(f"{'measurement':<52}{'seconds':>8}")
    print(f"{'baseline: read and parse every Python file':<52}{baseline:>8.3f}")
    print(f"{'copy check, in process':<52}{in_process:>8.3f}")
    print(f"{'zoo check-copies, whole command':<52}{whole_command:>8.3f}")
    print(f"target: under 2 seconds: {'met' if whole_command < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
