"""Atomic writes leave the old file or the complete new one, never a partial file; read_json names the file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from shared_contracts import (
    ContractError,
    read_json,
    write_bytes_atomically,
    write_json_atomically,
    write_text_atomically,
)


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".partial"))


def test_write_bytes_creates_parent_directories_and_returns_the_path(tmp_path):
    target = tmp_path / "a" / "b" / "data.bin"
    returned = write_bytes_atomically(target, b"\x00\x01\x02")
    assert returned == target
    assert target.read_bytes() == b"\x00\x01\x02"
    assert leftovers(target.parent) == []


def test_write_replaces_an_existing_file_completely(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("a much longer old content that must not survive in part")
    write_text_atomically(str(target), "new")
    assert target.read_text() == "new"


def test_text_is_written_as_utf8(tmp_path):
    target = write_text_atomically(tmp_path / "text.txt", "données")
    assert target.read_bytes() == "données".encode()


def test_written_file_gets_the_permissions_of_a_newly_created_file(tmp_path):
    # A temporary file is private to its owner; the final file must be readable as a normal file would be,
    # so that a server running as another user can read an exported model.
    reference = tmp_path / "reference.txt"
    reference.write_text("plain open")
    target = write_text_atomically(tmp_path / "atomic.txt", "atomic")
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_json_is_indented_sorted_and_ends_with_a_newline(tmp_path):
    target = write_json_atomically(tmp_path / "value.json", {"b": 1, "a": ["é", 2.5]})
    text = target.read_text(encoding="utf-8")
    assert text == '{\n  "a": [\n    "é",\n    2.5\n  ],\n  "b": 1\n}\n'
    assert read_json(target, "value") == {"a": ["é", 2.5], "b": 1}


def test_a_value_that_is_not_json_leaves_the_old_file_untouched_and_no_partial_file(tmp_path):
    target = tmp_path / "record.json"
    write_json_atomically(target, {"version": 1})
    before = target.read_bytes()
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_json_atomically(target, {"version": 2, "path": Path("/not/json")})
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_not_a_number_is_refused_rather_than_written_as_invalid_json(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(ValueError, match="Out of range float"):
        write_json_atomically(target, {"loss": float("nan")})
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_a_failure_while_writing_removes_the_temporary_file(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_bytes_atomically(target, "text is not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_failure_while_renaming_removes_the_temporary_file(tmp_path):
    # The target is a non-empty directory: everything is written, then the final rename fails.
    target = tmp_path / "occupied"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(IsADirectoryError):
        write_bytes_atomically(target, b"content")
    assert target.is_dir()
    assert leftovers(tmp_path) == []


def test_read_json_returns_the_value(tmp_path):
    path = tmp_path / "value.json"
    path.write_text(json.dumps([1, {"a": None}]))
    assert read_json(path, "list") == [1, {"a": None}]


def test_read_json_of_a_missing_file_names_the_file_and_what_it_is(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ContractError) as caught:
        read_json(path, "run record")
    assert caught.value.source == str(path)
    assert str(caught.value) == f"{path}: the run record does not exist"


def test_read_json_of_a_truncated_file_says_where_and_that_it_may_be_truncated(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('{\n  "name": "digits",\n  "splits": [')
    with pytest.raises(
        ContractError, match=r"cut\.json: the dataset manifest is not valid JSON \(line 3"
    ) as caught:
        read_json(path, "dataset manifest")
    assert "corrupt or truncated" in caught.value.reason


def test_read_json_of_a_file_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ContractError, match="the artifact manifest cannot be read") as caught:
        read_json(path, "artifact manifest")
    assert caught.value.source == str(path)


def test_read_json_of_a_directory_names_it(tmp_path):
    with pytest.raises(ContractError, match="cannot be read") as caught:
        read_json(tmp_path, "run record")
    assert caught.value.source == str(tmp_path)
