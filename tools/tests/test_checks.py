import subprocess

import pytest
from conftest import package_project

from zoo.checks import (
    CHECKS,
    check_copies_findings,
    check_declarations,
    check_isolation,
    check_locks,
    check_python_versions,
    repository_packages,
)


def messages(findings, root):
    return [finding.describe(root) for finding in findings]


def test_repository_packages_reads_contracts_and_packages_and_reports_broken_files(repository):
    repository.add_package("alpha-model")
    repository.write("packages/broken-model/pyproject.toml", "[project\n")
    repository.write("packages/.hidden-model/pyproject.toml", "")
    (repository.root / "packages" / "empty-folder").mkdir()
    packages, findings = repository_packages(repository.root)
    assert [package.name for package in packages] == ["shared-contracts", "alpha-model"]
    assert packages[1].module == "alpha_model"
    assert messages(findings, repository.root)[0].startswith(
        "packages/broken-model/pyproject.toml: not valid TOML"
    )


def test_repository_packages_without_packages_folder_or_contracts_project(tmp_path):
    (tmp_path / "shared-contracts").mkdir()
    packages, findings = repository_packages(tmp_path)
    assert packages == []
    assert messages(findings, tmp_path) == [
        "shared-contracts/pyproject.toml: the package has no pyproject.toml"
    ]


def test_isolation_accepts_the_contracts_and_the_package_itself(repository):
    repository.add_package(
        "alpha-model",
        {
            "model.py": "import shared_contracts\nfrom alpha_model import model\nfrom . import model as again\n"
        },
    )
    repository.add_package("beta-model")
    assert check_isolation(repository.root) == []


def test_isolation_reports_every_import_of_another_package(repository):
    repository.add_package("beta-model")
    repository.add_package(
        "alpha-model",
        {
            "model.py": (
                "import importlib\n"
                "import beta_model.model\n"
                "from beta_model import thing\n"
                "importlib.import_module('beta_model')\n"
                "__import__('beta_model.other')\n"
                "importlib.import_module(name)\n"
            )
        },
    )
    repository.write("packages/alpha-model/tests/test_model.py", "import beta_model\n")
    repository.write("shared-contracts/src/shared_contracts/extra.py", "import alpha_model\n")
    found = messages(check_isolation(repository.root), repository.root)
    assert [message.split(": ")[0] for message in found] == [
        "shared-contracts/src/shared_contracts/extra.py:1",
        "packages/alpha-model/src/alpha_model/model.py:2",
        "packages/alpha-model/src/alpha_model/model.py:3",
        "packages/alpha-model/src/alpha_model/model.py:4",
        "packages/alpha-model/src/alpha_model/model.py:5",
        "packages/alpha-model/tests/test_model.py:1",
    ]
    assert found[1].endswith(
        "imports beta_model.model, which belongs to the package beta-model; a package never imports another: "
        "copy what you need (with a '# Copied from' marker), or move a shared definition into shared-contracts"
    )
    assert "imports alpha_model, which belongs to the package alpha-model" in found[0]


def test_isolation_reports_files_that_do_not_parse(repository):
    repository.add_package("alpha-model", {"model.py": "def broken(:\n"})
    found = messages(check_isolation(repository.root), repository.root)
    assert found[0].startswith("packages/alpha-model/src/alpha_model/model.py:1: the file cannot be parsed")


def test_isolation_reports_dependencies_on_other_packages(repository):
    repository.add_package("beta-model")
    repository.add_package(
        "alpha-model",
        dependencies=("shared-contracts", "Beta_Model>=1; python_version >= '3.11'", "numpy"),
        extra='\n[project.optional-dependencies]\nextra = ["beta-model[all]"]\n',
    )
    project = repository.root / "packages/alpha-model/pyproject.toml"
    project.write_text(
        project.read_text().replace(
            'test = ["pytest>=8"]', 'test = ["pytest>=8", {include-group = "lint"}]\nlint = ["beta.model"]'
        )
    )
    found = messages(check_isolation(repository.root), repository.root)
    assert (
        found
        == [
            "packages/alpha-model/pyproject.toml: depends on beta-model, another package of this repository; a "
            "package's only dependency inside the repository is shared-contracts: copy what you need instead"
        ]
        * 3
    )


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ('shared-contracts = { path = "../../shared-contracts", editable = true }', "must not be editable"),
        ('shared-contracts = { path = "../beta-model" }', "the path '../beta-model' is not the repository's"),
        ('shared-contracts = { git = "https://example.org/contracts" }', "use the repository's copy"),
        ("shared-contracts = { workspace = true }", "the repository is not a uv workspace"),
        (
            'shared-contracts = { path = "../../shared-contracts" }\nbeta = { path = "../beta-model" }',
            "beta: points at '../beta-model' inside the repository",
        ),
        ("", "depends on shared-contracts without a source: add [tool.uv.sources]"),
    ],
)
def test_isolation_reports_wrong_sources(repository, sources, message):
    repository.add_package("beta-model")
    directory = repository.add_package("alpha-model")
    project = directory / "pyproject.toml"
    project.write_text(
        project.read_text().replace('shared-contracts = { path = "../../shared-contracts" }', sources)
    )
    found = messages(check_isolation(repository.root), repository.root)
    assert len(found) == 1
    assert message in found[0]


def test_isolation_accepts_sources_outside_the_repository_and_lists_of_sources(repository, tmp_path):
    directory = repository.add_package("alpha-model")
    project = directory / "pyproject.toml"
    project.write_text(
        project.read_text().replace(
            'shared-contracts = { path = "../../shared-contracts" }',
            'shared-contracts = [{ path = "../../shared-contracts", marker = "python_version >= \'3.11\'" }]\n'
            f'outside = {{ path = "{tmp_path}" }}\nnamed = {{ index = "pytorch" }}',
        )
    )
    assert check_isolation(repository.root) == []


def test_locks_are_checked_with_uv(repository):
    alpha = repository.add_package("alpha-model")
    beta = repository.add_package("beta-model")
    for directory in (repository.root / "shared-contracts", alpha, beta):
        subprocess.run(["uv", "lock", "--quiet"], cwd=directory, check=True)
    assert check_locks(repository.root) == []
    project = beta / "pyproject.toml"
    project.write_text(project.read_text().replace('version = "1.0.0"', 'version = "1.1.0"'))
    (alpha / "uv.lock").unlink()
    found = messages(check_locks(repository.root), repository.root)
    assert found[0] == "packages/alpha-model/uv.lock: missing: run `uv lock` in alpha-model"
    assert found[1].startswith(
        "packages/beta-model/uv.lock: out of date with pyproject.toml: run `uv lock` in the package ("
    )
    assert "needs to be updated" in found[1]


def test_a_lock_check_that_takes_too_long_is_reported(repository):
    subprocess.run(["uv", "lock", "--quiet"], cwd=repository.root / "shared-contracts", check=True)
    found = messages(check_locks(repository.root, timeout=0.000001), repository.root)
    assert found == ["shared-contracts/uv.lock: `uv lock --check` took longer than 1e-06 s"]


def test_locks_without_uv_is_a_clear_finding(repository, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    found = messages(check_locks(repository.root), repository.root)
    assert found == [".: uv is not installed or not on PATH: install uv to check the locks"]


def test_python_versions_must_cover_the_matrix(repository):
    repository.add_package("alpha-model", requires_python=">=3.11.4")
    repository.add_package("beta-model", requires_python=">=3.11,<3.13")
    repository.add_package("gamma-model", requires_python="three")
    repository.write("packages/delta-model/pyproject.toml", '[project]\nname = "delta-model"\n')
    found = messages(check_python_versions(repository.root), repository.root)
    assert found == [
        "packages/beta-model/pyproject.toml: requires-python '>=3.11,<3.13' excludes Python 3.13, which the "
        "test matrix runs (3.11, 3.12, 3.13): widen it",
        'packages/delta-model/pyproject.toml: declare requires-python (for example ">=3.11"): the matrix runs '
        "3.11, 3.12, 3.13",
        "packages/gamma-model/pyproject.toml: requires-python 'three' is not a valid specifier",
    ]


def test_declarations_require_kind_stage_and_framework(repository):
    repository.add_package("alpha-model")
    repository.add_package("beta-model", stage="forgotten")
    repository.write("packages/gamma-model/pyproject.toml", '[project]\nname = "gamma-model"\n')
    repository.write("packages/delta-model/pyproject.toml", package_project("epsilon-model"))
    found = messages(check_declarations(repository.root), repository.root)
    assert found == [
        "packages/beta-model/pyproject.toml: [tool.zoo] stage must be one of experimental, production, retired, "
        "found 'forgotten'",
        "packages/delta-model/pyproject.toml: the project name 'epsilon-model' must equal the folder name "
        "'delta-model'",
        "packages/gamma-model/pyproject.toml: [tool.zoo] must declare kind (one of model, service)",
        "packages/gamma-model/pyproject.toml: [tool.zoo] must declare stage (one of experimental, production, "
        "retired)",
        'packages/gamma-model/pyproject.toml: [tool.zoo] must declare framework (for example "pytorch")',
    ]


def test_the_copy_check_gives_problems_and_drift_as_findings(repository):
    repository.add_package("alpha-model", {"model.py": "VALUE = 1\n"})
    repository.add_package(
        "beta-model",
        {
            "model.py": (
                "# Copied from alpha-model:alpha_model.model.VALUE\nVALUE = 2\n\n"
                "# Copied from alpha-model:alpha_model.model.GONE\nGONE = 1\n"
            )
        },
    )
    repository.add_package(
        "gamma-model", {"model.py": "# Copied from alpha-model:alpha_model.model.VALUE\nVALUE = 1\n"}
    )
    found = messages(check_copies_findings(repository.root), repository.root)
    assert len(found) == 2
    assert found[0].startswith("packages/beta-model/src/beta_model/model.py:4: the origin")
    assert found[1].startswith(
        "packages/beta-model/src/beta_model/model.py:2: drifted from alpha-model:alpha_model.model.VALUE; run "
        "`zoo check-copies --fix` or mark the divergence\n--- packages/alpha-model/src/alpha_model/model.py:1"
    )


def test_every_check_is_registered_in_order():
    assert list(CHECKS) == [
        "isolation",
        "locks",
        "python-versions",
        "declarations",
        "copies",
        "abbreviations",
    ]
