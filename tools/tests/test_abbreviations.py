import pytest

from zoo.abbreviations import (
    ABBREVIATIONS,
    ALLOWED_TERMS,
    check_abbreviations,
    check_markdown_file,
    check_python_file,
    name_problems,
    source_directories,
)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("train_cfg", "'cfg' is an abbreviation: write train_configuration"),
        ("NUM_CLASSES", "'NUM' is an abbreviation: write NUMBER_OF_CLASSES"),
        ("n_layers", "'n' is an abbreviation: write number_of_layers"),
        ("num", "'num' is an abbreviation: write number"),
        ("TrainCfg", "'Cfg' is an abbreviation: write TrainConfiguration"),
        ("lrScheduler", "'lr' is an abbreviation: write learningRateScheduler"),
        ("data-dir", "'dir' is an abbreviation: write data-directory"),
        ("conv2_weights", "'conv2' is an abbreviation: write convolution2_weights"),
        ("val_loss", "'val' (validation or value) is an abbreviation: write validation_loss"),
        ("img_cfg", "'img' and 'cfg' are abbreviations: write image_configuration"),
        ("TMP", "'TMP' is an abbreviation: write TEMPORARY"),
    ],
)
def test_name_problems_name_the_abbreviation_and_the_whole_name_to_write(name, problem):
    assert name_problems(name) == [problem]


@pytest.mark.parametrize(
    "name", ["learning_rate", "to_dict", "ONNXPredictor", "HTTPServer", "x", "STAGES", "n"]
)
def test_full_words_and_established_terms_pass(name):
    assert name_problems(name) == []


def test_unknown_acronyms_in_camel_case_names_are_reported_unless_asked_not_to():
    assert name_problems("XYZModel")[0].startswith("'XYZ' looks like an abbreviation: write it out in full")
    assert name_problems("XYZModel", acronyms=False) == []


def test_the_dictionary_and_allow_list_are_consistent():
    assert all(key == key.lower() and entry.full for key, entry in ABBREVIATIONS.items())
    assert {"ONNX", "JAX", "CPU", "GPU", "URL", "HTTP", "JSON", "SHA"} <= ALLOWED_TERMS


SOURCE = '''\
"""A module."""

import argparse

NUM_WORKERS = 2
_PRIVATE_CFG = 1
holder.value = 3


def train(cfg, *args, learning_rate=1.0, _tmp=None, **kwargs):
    """Train."""

    def inner(idx):
        return idx


class TrainerCfg:
    """A configuration."""

    batch_sz: int = 1

    def eval(self, data_dir):
        """Evaluate."""

    def _hidden(self, tmp):
        """Hidden."""

    class _Private:
        img = 1


class _Hidden:
    cfg = 1


async def fetch_info():
    """Fetch."""


parser = argparse.ArgumentParser()
parser.add_argument("--lr", "-l", dest="learning_rate", type=float)
parser.add_argument("src_dir", metavar="SOURCE")
commands = parser.add_subparsers()
commands.add_parser("eval-model")
commands.add_parser(name)
option("--num-epochs")
parser.add_argument("--batch-size", default=1)
'''


def test_python_files_report_public_names_and_options(repository):
    path = repository.write("packages/alpha-model/src/alpha_model/train_utils.py", SOURCE)
    source_root = repository.root / "packages/alpha-model/src"
    found = [(finding.line, finding.message) for finding in check_python_file(path, source_root)]
    assert found == [
        (0, "module name train_utils: 'utils' is an abbreviation: write train_utilities"),
        (5, "name NUM_WORKERS: 'NUM' is an abbreviation: write NUMBER_OF_WORKERS"),
        (10, "parameter cfg: 'cfg' is an abbreviation: write configuration"),
        (10, "parameter args: 'args' is an abbreviation: write arguments"),
        (10, "parameter kwargs: 'kwargs' is an abbreviation: write keyword_arguments"),
        (17, "class TrainerCfg: 'Cfg' is an abbreviation: write TrainerConfiguration"),
        (20, "field batch_sz: 'sz' is an abbreviation: write batch_size"),
        (22, "method eval: 'eval' (evaluation or evaluate) is an abbreviation: write evaluation"),
        (22, "parameter data_dir: 'dir' is an abbreviation: write data_directory"),
        (36, "function fetch_info: 'info' is an abbreviation: write fetch_information"),
        (41, "option --lr: 'lr' is an abbreviation: write --learning-rate"),
        (42, "argument src_dir: 'src' and 'dir' are abbreviations: write source_directory"),
        (
            44,
            "command eval-model: 'eval' (evaluation or evaluate) is an abbreviation: write evaluation-model",
        ),
        (46, "option --num-epochs: 'num' is an abbreviation: write --number-of-epochs"),
    ]


def test_private_modules_are_left_out_and_files_that_do_not_parse_are_reported(repository):
    private = repository.write("packages/alpha-model/src/alpha_model/_cfg_helpers.py", "NUM = 1\n")
    broken = repository.write("packages/alpha-model/src/alpha_model/broken.py", "def broken(:\n")
    source_root = repository.root / "packages/alpha-model/src"
    assert check_python_file(private, source_root) == []
    assert check_python_file(broken, source_root)[0].message.startswith("the file cannot be parsed")


MARKDOWN = """\
---
title: The cfg page
---
# The MLP model, e.g. a CNN

Set the lr in the config, etc. See [the docs](https://example.org/docs) and the XYZ thing.
The Open Neural Network Exchange (ONNX) and the Abstract Syntax Trees (ASTs) are fine: ASTs, AST, KServe.
SHA-256, UTF-8, FP32, x86, GPU's and `cfg` or <https://example.org/cfg> or <b>bold</b> are fine too.
<!-- a comment with cfg
still cfg
and cfg -->
After the comment <!-- cfg --> and before <!-- one more
cfg --> it goes on with repos.
::: alpha_model.cfg
```python
cfg = 1
~~~
```

~~~~
cfg
~~~~
vs the repo, i.e. **NOT** this. A [reference][cfg] and the item--dir.

[cfg]: https://example.org/cfg
"""


def test_markdown_prose_is_checked_without_code_links_and_markup(repository):
    path = repository.write("docs/page.md", MARKDOWN)
    found = [(finding.line, finding.message.split(":")[0]) for finding in check_markdown_file(path)]
    assert found == [
        (4, "'e.g.' is an abbreviation"),
        (6, "'etc' is an abbreviation"),
        (6, "'lr' is an abbreviation"),
        (6, "'config' is an abbreviation"),
        (6, "'docs' is an abbreviation"),
        (6, "'XYZ' looks like an abbreviation"),
        (13, "'repos' is an abbreviation"),
        (23, "'i.e.' is an abbreviation"),
        (23, "'vs' is an abbreviation"),
        (23, "'repo' is an abbreviation"),
        (23, "'dir' is an abbreviation"),
    ]
    assert check_markdown_file(path)[2].message == "'lr' is an abbreviation: write 'learning rate'"


def test_markdown_that_is_not_utf8_is_reported(repository):
    path = repository.root / "notes.md"
    path.write_bytes(b"caf\xe9\n")
    assert check_markdown_file(path)[0].message.startswith("the file is not UTF-8 text")


def test_the_repository_check_reads_sources_and_documentation(repository):
    repository.add_package("alpha-model", {"model.py": "def train(cfg):\n    pass\n"})
    repository.write("packages/alpha-model/README.md", "# Alpha\n\nThe repo.\n")
    repository.write("packages/alpha-model/tests/test_model.py", "def test_cfg(cfg):\n    pass\n")
    repository.write(".tox/notes.md", "The repo.\n")
    assert source_directories(repository.root) == [
        repository.root / "packages/alpha-model/src",
        repository.root / "shared-contracts/src",
    ]
    found = [finding.describe(repository.root) for finding in check_abbreviations(repository.root)]
    assert found == [
        "packages/alpha-model/src/alpha_model/model.py:1: parameter cfg: 'cfg' is an abbreviation: write "
        "configuration",
        "packages/alpha-model/README.md:3: 'repo' is an abbreviation: write 'repository'",
    ]
