"""Small but real repositories in temporary folders, to build the documentation site of on purpose.

A sample repository holds this repository's own ``mkdocs.yml``, guides, generator, repository tool and
``shared-contracts`` sources, and the packages a test asks for: a model with a README that links in every
way a README does, a committed baseline run record and its command-line help, or a service.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
"""The real repository, whose site configuration and guides are copied."""

PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201a5d6b7d50000000049454e44ae426082"
)
"""A valid one-pixel PNG image."""


def copy_site_sources(destination: Path) -> None:
    """Copy what the site is built from (configuration, guides, generator, discovery, contracts)."""
    shutil.copy(REPOSITORY_ROOT / "mkdocs.yml", destination / "mkdocs.yml")
    shutil.copytree(
        REPOSITORY_ROOT / "docs",
        destination / "docs",
        ignore=shutil.ignore_patterns("tests", "__pycache__"),
    )
    shutil.copytree(
        REPOSITORY_ROOT / "tools" / "zoo",
        destination / "tools" / "zoo",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(
        REPOSITORY_ROOT / "shared-contracts" / "src",
        destination / "shared-contracts" / "src",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (destination / "packages").mkdir()


def write_pyproject(
    directory: Path,
    *,
    kind: str,
    stage: str = "experimental",
    framework: str = "pytorch",
    scripts: bool = True,
) -> None:
    """A package's ``pyproject.toml`` with its ``[tool.zoo]`` table."""
    name = directory.name
    module = name.replace("-", "_")
    script_table = f'[project.scripts]\n{name} = "{module}.model:main"\n' if scripts else ""
    (directory / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{name}"
            version = "1.2.0"
            description = "The sample {kind} {name}, for the documentation tests."

            """
        )
        + script_table
        + f'\n[tool.zoo]\nkind = "{kind}"\nstage = "{stage}"\nframework = "{framework}"\n',
        encoding="utf-8",
    )


def sample_run_record(name: str) -> dict:
    """A complete run record as the models write it, with three epochs."""
    return {
        "contracts_version": "1.0.0",
        "model_name": name,
        "model_version": "1.2.0",
        "run_identifier": "baseline-2026-01-01",
        "status": "completed",
        "configuration": {"learning_rate": 0.01, "epochs": 3, "hidden_sizes": [64, 32]},
        "seed": 7,
        "dataset_fingerprint": "a" * 64,
        "code": {"revision": "0123456789abcdef", "dirty": True, "diff_sha256": "b" * 64},
        "lock_sha256": "c" * 64,
        "environment": {
            "python": "3.11.7",
            "platform": "Linux-6.1-x86_64",
            "libraries": {"torch": "2.9.1", "numpy": "2.1.0"},
            "device": "cpu",
            "threads": {"intra_operation": 2},
        },
        "started_at": "2026-01-01T10:00:00Z",
        "finished_at": "2026-01-01T10:00:40Z",
        "epochs": [
            {"epoch": 1, "metrics": {"train_loss": 1.25, "validation_accuracy": 0.81}},
            {"epoch": 2, "metrics": {"train_loss": 0.42, "validation_accuracy": 0.95}},
            {"epoch": 3, "metrics": {"train_loss": 0.18, "validation_accuracy": 0.975}},
        ],
        "final_metrics": {"test_accuracy": 0.9733, "test_loss": 0.091},
        "checkpoints": [{"path": "checkpoints/epoch-3.safetensors", "sha256": "d" * 64, "epoch": 3}],
        "baseline_comparison": [
            {
                "metric": "test_accuracy",
                "value": 0.9733,
                "baseline": 0.97,
                "difference": 0.0033,
                "higher_is_better": True,
            }
        ],
        "reproduction_tolerance": {"test_accuracy": 0.005},
        "notes": ["Trained on purpose on a tree with uncommitted changes."],
    }


SAMPLE_HELP = """\
usage: {name} [-h] {{train,export}} ...

The sample model's command line.

options:
  -h, --help  show this help message and exit

usage: {name} train [-h] [--learning-rate LEARNING_RATE]

Train the model.

options:
  -h, --help            show this help message and exit
  --learning-rate LEARNING_RATE
                        The learning rate of the optimiser.
"""


def add_model(
    root: Path,
    name: str = "sample-classifier-torch",
    *,
    baseline: bool = True,
    help_text: bool = True,
) -> Path:
    """A model package with a README that links to its own files, another package and the guides."""
    directory = root / "packages" / name
    module = name.replace("-", "_")
    (directory / "src" / module).mkdir(parents=True)
    (directory / "baseline").mkdir()
    (directory / "tests").mkdir()
    (directory / "docs").mkdir()
    write_pyproject(directory, kind="model", stage="production")
    (directory / "src" / module / "__init__.py").write_text(
        f'"""The sample model {name}."""\n', encoding="utf-8"
    )
    (directory / "src" / module / "model.py").write_text(
        textwrap.dedent(
            '''\
            """The whole model in one file: configuration, training and the command line."""

            from dataclasses import dataclass


            @dataclass
            class Configuration:
                """Every setting of a training run; the defaults reproduce the baseline."""

                learning_rate: float = 0.01
                """The step size of the optimiser, see :class:`Configuration`."""


            def main() -> int:
                """Run the command line."""
                return 0
            '''
        ),
        encoding="utf-8",
    )
    (directory / "docs" / "confusion.png").write_bytes(PIXEL_PNG)
    (directory / "tests" / "test_model.py").write_text(
        "def test_nothing_yet():\n    pass\n", encoding="utf-8"
    )
    (directory / "README.md").write_text(
        textwrap.dedent(
            f"""\
            # Sample classifier

            A sample model card. Its [baseline](baseline/run.json), its
            [help](command-line-help.txt#usage), the [model file](src/{module}/model.py), the
            [tests](tests/), the [guide](../../docs/guides/testing.md), the
            [design](https://example.org/design), the [section below](#benchmarks), and
            `[not a link](nowhere.md)`.

            ![The confusion matrix](docs/confusion.png)

            <img src="docs/confusion.png" alt="again" width="20">

            ```text
            [inside a code block](nowhere.md)
            ```

            ## Benchmarks

            Training overhead against a plain loop: 1.04 (median of 5 runs).

            ### How to reproduce

            Run `uv run python benchmarks/training_overhead.py` from [the package](./).

            ## License

            Apache-2.0.
            """
        ),
        encoding="utf-8",
    )
    if baseline:
        (directory / "baseline" / "run.json").write_text(
            json.dumps(sample_run_record(name), indent=2), encoding="utf-8"
        )
    if help_text:
        (directory / "command-line-help.txt").write_text(SAMPLE_HELP.format(name=name), encoding="utf-8")
    return directory


def add_service(root: Path, name: str = "sample-server") -> Path:
    """A service package with a README and a source module but no command-line help file."""
    directory = root / "packages" / name
    module = name.replace("-", "_")
    (directory / "src" / module).mkdir(parents=True)
    write_pyproject(directory, kind="service", framework="onnxruntime", scripts=False)
    (directory / "src" / module / "__init__.py").write_text(
        f'"""The sample service {name}."""\n\nPORT = 8000\n"""The port it listens on."""\n', encoding="utf-8"
    )
    (directory / "README.md").write_text(
        f"# {name}\n\nServes the models of [the sample model](../sample-classifier-torch/README.md).\n",
        encoding="utf-8",
    )
    return directory


def add_benchmark_readme(root: Path) -> Path:
    """A ``benchmarks/`` folder with one README that has a figure and its command."""
    directory = root / "benchmarks" / "data-loader"
    directory.mkdir(parents=True)
    readme = directory / "README.md"
    readme.write_text(
        "Loader throughput\n=================\n\n## Figures\n\n"
        "About 900 MB/s: `uv run python benchmarks/data-loader/run.py`.\n",
        encoding="utf-8",
    )
    return readme
