import stat

import pytest

from zoo.discovery import DiscoveryError, discover_packages, read_package, repository_root
from zoo.files import Finding, display_path, walk_files, write_text_atomically


def test_discovery_reads_every_package_and_leaves_out_hidden_folders_and_retired_packages(repository):
    repository.add_package("alpha-model", stage="production", framework="pytorch")
    repository.add_package("beta-model", stage="retired", kind="service")
    repository.write("packages/.new-model-gamma-model-1234/pyproject.toml", "[project\n")
    repository.write("packages/notes.txt", "not a package\n")
    (repository.root / "packages" / "empty-folder").mkdir()
    packages = discover_packages(repository.root)
    assert [(package.name, package.stage, package.retired) for package in packages] == [
        ("alpha-model", "production", False),
        ("beta-model", "retired", True),
    ]
    assert packages[0].module == "alpha_model"
    assert packages[0].framework == "pytorch"
    assert packages[0].description == "The alpha-model package."
    assert [package.name for package in discover_packages(repository.root, include_retired=False)] == [
        "alpha-model"
    ]


def test_discovery_without_packages_folder_finds_nothing(tmp_path):
    assert discover_packages(tmp_path) == []


@pytest.mark.parametrize(
    ("project", "message"),
    [
        (None, "a package folder needs a pyproject.toml"),
        ("[project\n", "not valid TOML"),
        ('[project]\nname = "other"\n', "the project name 'other' must equal the folder name 'alpha-model'"),
        ('[project]\nname = "alpha-model"\n[tool.zoo]\nkind = "toy"\n', "kind must be one of model, service"),
    ],
)
def test_read_package_explains_what_is_wrong(repository, project, message):
    directory = repository.root / "packages" / "alpha-model"
    directory.mkdir()
    if project is not None:
        (directory / "pyproject.toml").write_text(project)
    with pytest.raises(DiscoveryError, match=message):
        read_package(directory)


def test_read_package_defaults(repository):
    repository.write("packages/alpha-model/pyproject.toml", '[project]\nname = "alpha-model"\n')
    package = read_package(repository.root / "packages" / "alpha-model")
    assert (package.kind, package.stage, package.framework, package.version) == (
        "model",
        "experimental",
        "unknown",
        "0",
    )


def test_repository_root_is_found_upward_or_from_the_environment(repository, monkeypatch, tmp_path):
    inside = repository.root / "packages" / "alpha-model" / "src"
    inside.mkdir(parents=True)
    assert repository_root(inside) == repository.root
    monkeypatch.chdir(inside)
    assert repository_root() == repository.root
    with pytest.raises(DiscoveryError, match="is not inside the model zoo repository"):
        repository_root(tmp_path)
    monkeypatch.setenv("ZOO_ROOT", str(tmp_path))
    assert repository_root(inside) == tmp_path.resolve()


def test_walk_files_skips_generated_and_hidden_folders(tmp_path):
    for relative in (
        "b.py",
        "a/c.py",
        "a/c.txt",
        ".venv/d.py",
        "__pycache__/e.py",
        "runs/f.py",
        "thing.egg-info/g.py",
        "site/h.py",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("")
    assert [path.relative_to(tmp_path).as_posix() for path in walk_files(tmp_path, ".py")] == [
        "b.py",
        "a/c.py",
    ]


def test_display_path_is_relative_inside_the_root_only(tmp_path):
    assert display_path(tmp_path / "a" / "b.py", tmp_path) == "a/b.py"
    assert display_path(tmp_path.parent, tmp_path) == str(tmp_path.parent)


def test_findings_describe_their_location(tmp_path):
    assert Finding(tmp_path / "a.py", 3, "wrong").describe(tmp_path) == "a.py:3: wrong"
    assert Finding(tmp_path / "a.py", 0, "wrong").describe(tmp_path) == "a.py: wrong"


def test_atomic_writing_keeps_permissions_and_leaves_nothing_behind_on_failure(tmp_path):
    new = tmp_path / "new.txt"
    write_text_atomically(new, "first\n")
    assert new.read_text() == "first\n"
    assert stat.S_IMODE(new.stat().st_mode) == 0o644
    script = tmp_path / "script.sh"
    script.write_text("old\n")
    script.chmod(0o750)
    write_text_atomically(script, "new\n")
    assert (script.read_text(), stat.S_IMODE(script.stat().st_mode)) == ("new\n", 0o750)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "inside.txt").write_text("kept\n")
    with pytest.raises(IsADirectoryError):
        write_text_atomically(folder, "replaced?\n")
    assert (folder / "inside.txt").read_text() == "kept\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["folder", "new.txt", "script.sh"]
