"""SHA-256 of bytes, files, directories and JSON values: the same thing always gives the same digest."""

from __future__ import annotations

import hashlib

import pytest

from shared_contracts import canonical_json, hashing, sha256_bytes, sha256_directory, sha256_file, sha256_json


def test_sha256_bytes_is_the_standard_digest():
    # The well-known digest of the empty input, independent of hashlib.
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_bytes(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_sha256_file_reads_in_chunks_and_agrees_with_the_bytes_digest(tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "_CHUNK_SIZE", 7)  # many chunks, the last one partial
    data = bytes(range(256)) * 3
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    assert sha256_file(path) == sha256_bytes(data)
    assert sha256_file(str(path)) == sha256_bytes(data)


def test_sha256_file_of_an_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == sha256_bytes(b"")


def make_tree(root):
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / "sub" / "deeper" / "c.txt").write_text("c")
    (root / "empty-directory").mkdir()
    return root


def test_sha256_directory_is_the_same_for_the_same_content_anywhere(tmp_path):
    first = make_tree(tmp_path / "first")
    second = make_tree(tmp_path / "second")
    assert sha256_directory(first) == sha256_directory(str(second))


def test_sha256_directory_is_defined_by_sorted_relative_paths_and_file_digests(tmp_path):
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    # '-' and '.' sort before '/', so string order and path-component order disagree here.
    (root / "a" / "b").write_text("1")
    (root / "a-c").write_text("2")
    (root / "a.d").write_text("3")
    expected = hashlib.sha256()
    for relative, content in (("a-c", b"2"), ("a.d", b"3"), ("a/b", b"1")):
        expected.update(f"{relative}\0{sha256_bytes(content)}\n".encode())
    assert sha256_directory(root) == expected.hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "a.txt").write_text("changed"),
        lambda root: (root / "sub" / "b.txt").rename(root / "sub" / "renamed.txt"),
        lambda root: (root / "sub" / "deeper" / "new.txt").write_text(""),
        lambda root: (root / "sub" / "deeper" / "c.txt").unlink(),
    ],
    ids=["content", "rename", "addition", "removal"],
)
def test_sha256_directory_changes_with_any_file(tmp_path, change):
    root = make_tree(tmp_path / "tree")
    before = sha256_directory(root)
    change(root)
    assert sha256_directory(root) != before


def test_sha256_directory_ignores_empty_directories_and_file_times(tmp_path):
    root = make_tree(tmp_path / "tree")
    before = sha256_directory(root)
    (root / "another-empty-directory").mkdir()
    (root / "a.txt").touch()
    assert sha256_directory(root) == before


def test_sha256_directory_refuses_a_file_or_a_missing_path(tmp_path):
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(NotADirectoryError, match=r"file\.txt is not a directory"):
        sha256_directory(file)
    with pytest.raises(NotADirectoryError, match="missing is not a directory"):
        sha256_directory(tmp_path / "missing")


def test_canonical_json_sorts_keys_and_drops_white_space():
    assert canonical_json({"b": [1, 2.5], "a": "é"}) == '{"a":"é","b":[1,2.5]}'.encode()


def test_equal_values_have_equal_digests_whatever_the_key_order():
    assert sha256_json({"x": 1, "y": {"b": 2, "a": 1}}) == sha256_json({"y": {"a": 1, "b": 2}, "x": 1})
    assert sha256_json({"x": 1}) != sha256_json({"x": 2})
    assert sha256_json([1, 2]) == sha256_bytes(b"[1,2]")


def test_canonical_json_refuses_not_a_number():
    with pytest.raises(ValueError, match="Out of range float"):
        canonical_json(float("inf"))
