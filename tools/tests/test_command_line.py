import os
import runpy
import subprocess
import sys

import pytest

from zoo.command_line import CANNOT_RUN, PROBLEMS_FOUND, SUCCESS, build_parser, main


@pytest.fixture
def models(repository):
    repository.add_package("alpha-model", {"model.py": '"""Alpha."""\n\nVALUE = 1\n'})
    repository.add_package(
        "beta-model",
        {"model.py": '"""Beta."""\n\n# Copied from alpha-model:alpha_model.model.VALUE\nVALUE = 2\n'},
    )
    return repository


def run(arguments, capsys):
    status = main(arguments)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_check_copies_reports_drift_and_fix_repairs_it(models, capsys):
    root = str(models.root)
    status, output, _ = run(["--root", root, "check-copies"], capsys)
    assert status == PROBLEMS_FOUND
    assert (
        "packages/beta-model/src/beta_model/model.py:4-4: drifted from alpha-model:alpha_model.model.VALUE"
        in output
    )
    assert "-VALUE = 1\n+VALUE = 2" in output
    assert output.splitlines()[-1] == "1 copy: 0 in sync, 1 drifted, 0 diverged on purpose; 0 marker problems"

    status, output, _ = run(["--root", root, "check-copies", "--fix"], capsys)
    assert status == SUCCESS
    assert output.splitlines()[0] == (
        "rewrote packages/beta-model/src/beta_model/model.py:4-4 from alpha-model:alpha_model.model.VALUE"
    )
    assert models.read("packages/beta-model/src/beta_model/model.py").endswith("VALUE = 1\n")

    status, output, _ = run(["--root", root, "check-copies", "--report"], capsys)
    assert status == SUCCESS
    assert output.splitlines()[1].split()[:3] == [
        "in",
        "sync",
        "packages/beta-model/src/beta_model/model.py:4-4",
    ]


def test_check_copies_of_one_origin_lists_its_copies(models, capsys):
    status, output, _ = run(["--root", str(models.root), "check-copies", "--origin", "alpha-model"], capsys)
    assert status == PROBLEMS_FOUND
    assert output.splitlines()[1].startswith("drifted")
    status, output, _ = run(["--root", str(models.root), "check-copies", "--origin", "beta-model"], capsys)
    assert status == SUCCESS
    assert output.splitlines() == [
        "status  copy  origin  origin lines",
        "0 copies: 0 in sync, 0 drifted, 0 diverged on purpose; 0 marker problems",
    ]


def test_check_runs_the_chosen_checks_and_refuses_unknown_ones(models, capsys):
    status, output, _ = run(["--root", str(models.root), "check", "python-versions", "declarations"], capsys)
    assert status == SUCCESS
    lines = output.splitlines()
    assert lines[0].startswith("== python-versions: ok (")
    assert lines[-1] == "zoo check: 0 problems (python-versions 0, declarations 0)"

    status, output, _ = run(["--root", str(models.root), "check", "copies"], capsys)
    assert status == PROBLEMS_FOUND
    assert output.splitlines()[0].startswith("== copies: 1 problem (")

    status, _, error = run(["--root", str(models.root), "check", "spelling"], capsys)
    assert status == CANNOT_RUN
    assert error.startswith("zoo check: error: unknown check spelling: choose from isolation, locks")


def test_check_runs_every_check_by_default(models, capsys):
    for directory in ("shared-contracts", "packages/alpha-model", "packages/beta-model"):
        subprocess.run(["uv", "lock", "--quiet"], cwd=models.root / directory, check=True)
    status, output, _ = run(["--root", str(models.root), "check"], capsys)
    assert status == PROBLEMS_FOUND
    assert [line.split(":")[0] for line in output.splitlines() if line.startswith("== ")] == [
        "== isolation",
        "== locks",
        "== python-versions",
        "== declarations",
        "== copies",
        "== abbreviations",
    ]
    assert output.splitlines()[-1] == (
        "zoo check: 1 problem (isolation 0, locks 0, python-versions 0, declarations 0, copies 1, abbreviations 0)"
    )


def test_list_prints_the_table_or_json(models, capsys):
    status, output, _ = run(["--root", str(models.root), "list"], capsys)
    assert status == SUCCESS
    assert output.splitlines()[1].split()[:2] == ["alpha-model", "model"]
    status, output, _ = run(["--root", str(models.root), "list", "--format", "json"], capsys)
    assert output.startswith("[\n")


def test_new_model_from_options_prints_what_was_made_and_what_to_do(models, capsys):
    status, output, _ = run(
        [
            "--root",
            str(models.root),
            "new-model",
            "--from",
            "alpha-model",
            "--name",
            "gamma-model",
            "--skip-lock",
        ],
        capsys,
    )
    assert status == SUCCESS
    assert output.splitlines() == [
        "created packages/gamma-model: 4 files, 1 origin marker",
        "next:",
        "  - update its lock (the origin's, renamed): uv lock --directory packages/gamma-model",
        "  - fill in the model card, packages/gamma-model/README.md",
        "  - run its tests: tox -e gamma-model-py311",
        "  - see what it shares with alpha-model: uv run zoo check-copies --origin alpha-model",
    ]


def test_new_model_refusals_exit_with_a_message(models, capsys):
    status, _, error = run(
        ["--root", str(models.root), "new-model", "--from", "alpha-model", "--name", "beta-model"], capsys
    )
    assert status == CANNOT_RUN
    assert error == (
        "zoo new-model: error: packages/beta-model already exists: choose another name, or remove that folder first\n"
    )


def test_new_model_without_options_and_without_a_terminal_says_which_option_to_give(
    models, capsys, monkeypatch
):
    with open(os.devnull) as nothing:
        monkeypatch.setattr(sys, "stdin", nothing)
        status, _, error = run(["--root", str(models.root), "new-model"], capsys)
        assert status == CANNOT_RUN
        assert "give --from (one of: alpha-model, beta-model); the input is not a terminal" in error
        status, _, error = run(["--root", str(models.root), "new-model", "--from", "alpha-model"], capsys)
        assert "error: give --name; the input is not a terminal, so it cannot be asked for" in error


@pytest.fixture
def terminal(monkeypatch):
    """A real pseudo-terminal as standard input; returns a function that types lines into it."""
    primary, secondary = os.openpty()
    terminal_input = os.fdopen(secondary, "r")
    monkeypatch.setattr(sys, "stdin", terminal_input)
    yield lambda text: os.write(primary, text.encode())
    terminal_input.close()
    os.close(primary)


def test_new_model_asks_for_missing_options_on_a_terminal(models, capsys, terminal):
    terminal("alpha-model\ndelta-model\n")
    status, output, _ = run(["--root", str(models.root), "new-model"], capsys)
    assert status == SUCCESS
    assert output.startswith(
        "packages: alpha-model, beta-model\nthe package to copy: the new package's name (lowercase words joined "
        "by hyphens): created packages/delta-model"
    )
    assert (models.root / "packages/delta-model/src/delta_model/model.py").is_file()
    assert (models.root / "packages/delta-model/uv.lock").is_file()
    assert "update its lock" not in output


def test_an_empty_answer_creates_nothing(models, capsys, terminal):
    terminal("\n")
    status, _, error = run(["--root", str(models.root), "new-model"], capsys)
    assert status == CANNOT_RUN
    assert error == "zoo new-model: error: no answer for --from: nothing was created\n"


def test_the_end_of_the_input_is_no_answer(models, capsys, terminal):
    terminal("\x04")  # control-D: the end of the input
    status, _, error = run(["--root", str(models.root), "new-model", "--from", "alpha-model"], capsys)
    assert status == CANNOT_RUN
    assert error == "zoo new-model: error: no answer for --name: nothing was created\n"


def test_the_root_is_found_from_the_current_folder_or_the_environment(models, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(models.root / "packages" / "alpha-model")
    status, output, _ = run(["list"], capsys)
    assert status == SUCCESS
    assert "alpha-model" in output
    monkeypatch.chdir(tmp_path)
    status, _, error = run(["list"], capsys)
    assert status == CANNOT_RUN
    assert "is not inside the model zoo repository" in error
    monkeypatch.setenv("ZOO_ROOT", str(models.root))
    assert run(["list"], capsys)[0] == SUCCESS


def test_every_option_has_help():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for command in [parser, *commands.values()]:
        for action in command._actions:
            assert action.help, (command.prog, action.dest)


def test_python_dash_m_zoo_runs_the_command(models, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["zoo", "--root", str(models.root), "list"])
    with pytest.raises(SystemExit) as exit_information:
        runpy.run_module("zoo", run_name="__main__")
    assert exit_information.value.code == SUCCESS
    assert "alpha-model" in capsys.readouterr().out


def test_the_console_script_help_explains_the_commands():
    completed = subprocess.run(
        [sys.executable, "-m", "zoo", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("check-copies", "new-model", "check", "list"):
        assert command in completed.stdout
