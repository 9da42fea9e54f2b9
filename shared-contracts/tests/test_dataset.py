"""The dataset contract: manifest round trips, every rejection, and shards written and read for real."""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from dataclasses import replace

import numpy
import pytest
from contract_builders import FEATURES, prepare_dataset, shard_arrays

from shared_contracts import (
    CONTRACTS_VERSION,
    DATASET_MANIFEST_FILE_NAME,
    ContractError,
    DatasetManifest,
    ShardRecord,
    SplitRecord,
    TensorSpecification,
    decode_shard,
    read_shard,
    sha256_bytes,
    write_shard,
)

# ----------------------------------------------------------------------------------------------------------
# The manifest as a value


def test_save_and_load_round_trip(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    assert manifest.name == "shapes"
    assert manifest.features == FEATURES
    assert [split.name for split in manifest.splits] == ["train", "test"]
    assert manifest.split("train").rows == 5
    assert manifest.split("test").rows == 2
    assert manifest.preparation == {"seed": 7, "test_fraction": 0.25}
    assert manifest.contracts_version == CONTRACTS_VERSION
    copied = dataset_directory.parent / "copy"
    path = manifest.save(copied)
    assert path == copied / DATASET_MANIFEST_FILE_NAME
    assert DatasetManifest.load(str(copied)) == manifest


def test_the_json_form_round_trips_and_states_rows_and_fingerprint(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    data = manifest.to_dict()
    assert data["fingerprint"] == manifest.fingerprint()
    assert data["splits"][0]["rows"] == 5
    assert data["splits"][0]["shards"][0] == manifest.splits[0].shards[0].to_dict()
    assert DatasetManifest.from_dict(json.loads(json.dumps(data))) == manifest


def test_optional_fields_may_be_left_out(dataset_directory):
    data = DatasetManifest.load(dataset_directory).to_dict()
    for optional in ("description", "preparation", "fingerprint"):
        del data[optional]
    manifest = DatasetManifest.from_dict(data)
    assert manifest.description == ""
    assert manifest.preparation == {}


def test_an_older_contracts_version_is_read(dataset_directory):
    data = DatasetManifest.load(dataset_directory).to_dict()
    data["contracts_version"] = "0.9.3"
    assert DatasetManifest.from_dict(data).contracts_version == "0.9.3"


def test_the_fingerprint_follows_the_data_not_the_free_text(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    described = replace(
        manifest,
        description="other words",
        source="elsewhere",
        license="MIT",
        preparation={"seed": 8},
        contracts_version="1.9.0",
    )
    assert described.fingerprint() == manifest.fingerprint()
    shard = manifest.splits[1].shards[0]
    changed_shard = ShardRecord(shard.path, shard.rows, sha256_bytes(b"other content"))
    changed = replace(manifest, splits=(manifest.splits[0], SplitRecord("test", (changed_shard,))))
    assert changed.fingerprint() != manifest.fingerprint()
    assert replace(manifest, version="2").fingerprint() != manifest.fingerprint()
    assert replace(manifest, features=(FEATURES[0],)).fingerprint() != manifest.fingerprint()


def test_preparing_the_same_data_twice_gives_the_same_fingerprint(tmp_path):
    first = prepare_dataset(tmp_path / "first")
    second = prepare_dataset(tmp_path / "second")
    assert first.fingerprint() == second.fingerprint()
    assert (tmp_path / "first" / "train/shard-00000.npz").read_bytes() == (
        tmp_path / "second" / "train/shard-00000.npz"
    ).read_bytes()


def test_feature_and_split_lookups(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    assert manifest.feature("label") == FEATURES[1]
    assert manifest.split("test").shards[0].path == "test/shard-00000.npz"
    with pytest.raises(
        ContractError, match="dataset 'shapes' has no feature 'colour'; it has: pixels, label"
    ):
        manifest.feature("colour")
    with pytest.raises(
        ContractError, match="dataset 'shapes' has no split 'validation'; it has: train, test"
    ):
        manifest.split("validation")


def shard(path: str, rows: int = 1) -> ShardRecord:
    return ShardRecord(path, rows, sha256_bytes(path.encode()))


@pytest.mark.parametrize(
    ("features", "splits", "field", "message"),
    [
        ((), (SplitRecord("train", (shard("a"),)),), "features", "at least one feature"),
        (
            FEATURES + FEATURES[:1],
            (SplitRecord("train", (shard("a"),)),),
            "features",
            "feature names must be unique",
        ),
        (FEATURES, (), "splits", "at least one split"),
        (
            FEATURES,
            (SplitRecord("train", (shard("a"),)), SplitRecord("train", (shard("b"),))),
            "splits",
            "split names must be unique, found ['train', 'train']",
        ),
        (
            FEATURES,
            (SplitRecord("train", (shard("a"), shard("b"))), SplitRecord("test", (shard("b"),))),
            "splits",
            "['b'] appear more than once (a shard in two splits would leak examples",
        ),
    ],
)
def test_a_manifest_refuses_an_inconsistent_structure(features, splits, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        DatasetManifest("d", "1", "s", "l", features, splits)
    assert caught.value.field == field


# ----------------------------------------------------------------------------------------------------------
# Reading a manifest that is wrong: every rejection names the file and the field


def write_manifest(directory, data):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DATASET_MANIFEST_FILE_NAME).write_text(json.dumps(data))
    return directory / DATASET_MANIFEST_FILE_NAME


@pytest.fixture
def valid(dataset_directory):
    return DatasetManifest.load(dataset_directory).to_dict()


def change(data, path, value):
    """A deep copy of ``data`` with the item at ``path`` replaced, or removed when ``value`` is REMOVE."""
    changed = copy.deepcopy(data)
    container = changed
    for key in path[:-1]:
        container = container[key]
    if value is REMOVE:
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return changed


REMOVE = object()


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        *(
            ((name,), REMOVE, name, "is missing")
            for name in ("name", "version", "source", "license", "features", "splits", "contracts_version")
        ),
        (("name",), 3, "name", "must be a string, found 3"),
        (("description",), ["a"], "description", "must be a string"),
        (("preparation",), "seed 7", "preparation", "must be an object, found 'seed 7'"),
        (("features",), {"pixels": "float32"}, "features", "must be a list"),
        (("features", 0), "pixels", "features[0]", "expected a JSON object, found str"),
        (("features", 1, "dtype"), "string", "features[1].dtype", "unsupported dtype 'string'"),
        (("features", 0, "shape"), [4, 0], "features[0].shape", "invalid shape [4, 0]"),
        (("features", 1, "name"), "pixels", "features", "feature names must be unique"),
        (("splits",), [], "splits", "at least one split"),
        (("splits", 1, "name"), "train", "splits", "split names must be unique"),
        (("splits", 0, "name"), REMOVE, "splits[0].name", "is missing"),
        (("splits", 0, "shards"), [], "splits[0].shards", "a split needs at least one shard"),
        (("splits", 0, "rows"), 6, "splits[0].rows", "says 6 but the shards hold 5 rows"),
        (("splits", 0, "rows"), REMOVE, "splits[0].rows", "is missing"),
        (
            ("splits", 0, "shards", 1, "sha256"),
            "ABC",
            "splits[0].shards[1].sha256",
            "must be a SHA-256 digest",
        ),
        (("splits", 0, "shards", 1, "sha256"), "A" * 64, "splits[0].shards[1].sha256", "must be a SHA-256"),
        (("splits", 0, "shards", 1, "rows"), 0, "splits[0].shards[1].rows", "must be at least 1, found 0"),
        (
            ("splits", 0, "shards", 1, "rows"),
            True,
            "splits[0].shards[1].rows",
            "must be an integer, found True",
        ),
        (
            ("splits", 0, "shards", 0, "path"),
            "/etc/passwd",
            "splits[0].shards[0].path",
            "relative to the dataset",
        ),
        (("splits", 0, "shards", 0, "path"), "../x.npz", "splits[0].shards[0].path", "no '..'"),
        (("splits", 0, "shards", 0, "path"), "a/../../x.npz", "splits[0].shards[0].path", "no '..'"),
        (("splits", 0, "shards", 0, "path"), "", "splits[0].shards[0].path", "found ''"),
        (("splits", 0, "shards", 0, "path"), "train\\x.npz", "splits[0].shards[0].path", "forward slashes"),
        (("fingerprint",), "0" * 64, "fingerprint", "does not match the manifest's content"),
        (("fingerprint",), 12, "fingerprint", "must be a string"),
        (("contracts_version",), "1.0", "contracts_version", "must be a version such as"),
        (("contracts_version",), "v1.0.0", "contracts_version", "must be a version such as"),
        (("contracts_version",), "99.0.0", "contracts_version", "newer than this shared-contracts"),
    ],
)
def test_load_refuses_a_bad_manifest_naming_the_file_and_the_field(
    tmp_path, valid, path, value, field, message
):
    data = change(valid, path, value)
    if path[0] != "fingerprint":
        # Leave the stated fingerprint out so that the field under test is what is reported.
        data.pop("fingerprint")
    manifest_path = write_manifest(tmp_path / "bad", data)
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        DatasetManifest.load(tmp_path / "bad")
    assert caught.value.source == str(manifest_path)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{manifest_path}, field '{field}': ")


def test_a_hand_edited_manifest_is_caught_by_its_fingerprint(tmp_path, valid):
    edited = change(valid, ("splits", 0, "shards", 0, "rows"), 4)
    edited = change(edited, ("splits", 0, "rows"), 6)
    path = write_manifest(tmp_path / "edited", edited)
    with pytest.raises(
        ContractError, match=r"edited by hand or is corrupt\. Prepare the dataset again"
    ) as caught:
        DatasetManifest.load(path.parent)
    assert caught.value.field == "fingerprint"


def test_from_dict_without_a_source_still_names_the_field(valid):
    with pytest.raises(ContractError) as caught:
        DatasetManifest.from_dict(change(valid, ("features", 1, "name"), "pixels"))
    assert caught.value.source is None
    assert str(caught.value).startswith("field 'features': feature names must be unique")


def test_a_missing_manifest_says_to_prepare_the_dataset(tmp_path):
    with pytest.raises(ContractError, match="run the model's `prepare-data` command first") as caught:
        DatasetManifest.load(tmp_path / "nothing-here")
    assert caught.value.source == str(tmp_path / "nothing-here" / DATASET_MANIFEST_FILE_NAME)


def test_a_corrupt_manifest_is_refused(tmp_path):
    directory = tmp_path / "corrupt"
    directory.mkdir()
    (directory / DATASET_MANIFEST_FILE_NAME).write_bytes(b"\x00\x01 not json")
    with pytest.raises(ContractError, match="the dataset manifest is not valid JSON"):
        DatasetManifest.load(directory)


def test_a_truncated_manifest_is_refused(dataset_directory):
    path = dataset_directory / DATASET_MANIFEST_FILE_NAME
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ContractError, match=r"not valid JSON .* corrupt or truncated") as caught:
        DatasetManifest.load(dataset_directory)
    assert caught.value.source == str(path)


def test_a_manifest_that_is_not_an_object_is_refused(tmp_path):
    path = write_manifest(tmp_path / "list", [1, 2])
    with pytest.raises(ContractError, match="expected a JSON object, found list") as caught:
        DatasetManifest.load(path.parent)
    assert caught.value.source == str(path)


# ----------------------------------------------------------------------------------------------------------
# Shards


def test_verify_and_read_every_shard(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    manifest.verify(dataset_directory)
    arrays = read_shard(dataset_directory, manifest.split("train").shards[1], manifest.features)
    expected = shard_arrays(2, 3)
    assert sorted(arrays) == ["label", "pixels"]
    for name, array in expected.items():
        numpy.testing.assert_array_equal(arrays[name], array)
        assert arrays[name].dtype == array.dtype


def test_decode_shard_checks_bytes_fetched_from_anywhere(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    shard = manifest.split("train").shards[1]
    data = (dataset_directory / shard.path).read_bytes()
    arrays = decode_shard(data, shard, manifest.features, "memory://bucket/shard.npz")
    numpy.testing.assert_array_equal(arrays["label"], shard_arrays(2, 3)["label"])
    with pytest.raises(ContractError, match="SHA-256 does not match") as caught:
        decode_shard(data[:-1], shard, manifest.features, "memory://bucket/shard.npz")
    assert caught.value.source == "memory://bucket/shard.npz"


def test_any_feature_name_can_be_a_shard_member(tmp_path):
    # numpy.savez takes its members as keyword arguments; these names would collide with its parameters.
    features = (
        TensorSpecification("file", "uint8", (2,)),
        TensorSpecification("allow_pickle", "bool", ()),
        TensorSpecification("arr_0", "float64", ()),
    )
    arrays = {
        "file": numpy.array([[1, 2], [3, 4]], dtype=numpy.uint8),
        "allow_pickle": numpy.array([True, False]),
        "arr_0": numpy.array([0.5, 1.5]),
    }
    record = write_shard(tmp_path, "odd-names.npz", arrays, features)
    assert record == ShardRecord("odd-names.npz", 2, sha256_bytes((tmp_path / "odd-names.npz").read_bytes()))
    read = read_shard(tmp_path, record, features)
    for name, array in arrays.items():
        numpy.testing.assert_array_equal(read[name], array)
    # It is a standard archive: numpy reads it as it reads its own.
    with numpy.load(tmp_path / "odd-names.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["allow_pickle", "arr_0", "file"]


def test_a_non_contiguous_array_is_written_in_its_logical_order(tmp_path):
    features = (TensorSpecification("values", "int32", (3,)),)
    transposed = numpy.arange(6, dtype=numpy.int32).reshape(3, 2).T
    record = write_shard(tmp_path, "transposed.npz", {"values": transposed}, features)
    numpy.testing.assert_array_equal(read_shard(tmp_path, record, features)["values"], transposed)


@pytest.mark.parametrize(
    "relative_path",
    ["/absolute.npz", "//network-root.npz", "../outside.npz", "", "a\\b.npz", "nested/../../outside.npz"],
)
def test_write_shard_refuses_a_path_outside_the_dataset_and_writes_nothing(tmp_path, relative_path):
    directory = tmp_path / "dataset"
    with pytest.raises(ContractError, match="relative to the dataset directory") as caught:
        write_shard(directory, relative_path, shard_arrays(1), FEATURES)
    assert caught.value.field == "path"
    assert not directory.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"pixels": numpy.zeros((2, 4), numpy.float32), "label": numpy.zeros(3, numpy.int64)},
            "same, non-zero number of rows, found {'pixels': 2, 'label': 3}",
        ),
        (
            {"pixels": numpy.zeros((0, 4), numpy.float32), "label": numpy.zeros(0, numpy.int64)},
            "found {'pixels': 0, 'label': 0}",
        ),
        (
            {"pixels": numpy.zeros((1, 4), numpy.float32), "label": numpy.array(1, numpy.int64)},
            "found {'pixels': 1, 'label': 0}",
        ),
        (
            {"pixels": numpy.zeros((1, 4), numpy.float32)},
            "exactly the features ['label', 'pixels'], found ['pixels']",
        ),
        (
            {**shard_arrays(1), "extra": numpy.zeros(1)},
            "exactly the features ['label', 'pixels'], found ['extra', 'label', 'pixels']",
        ),
        (
            {"pixels": numpy.zeros((1, 4), numpy.float64), "label": numpy.zeros(1, numpy.int64)},
            "tensor 'pixels' must have dtype float32, found float64",
        ),
        (
            {"pixels": numpy.zeros((1, 5), numpy.float32), "label": numpy.zeros(1, numpy.int64)},
            "tensor 'pixels' must have shape [-1, 4]",
        ),
        (
            {"pixels": numpy.zeros((1, 4), numpy.float32), "label": [3]},
            "'label' must be a numpy array, found list",
        ),
    ],
)
def test_write_shard_refuses_arrays_that_do_not_match_the_features(tmp_path, arrays, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        write_shard(tmp_path, "shard.npz", arrays, FEATURES)
    assert caught.value.source == str(tmp_path / "shard.npz")
    assert not (tmp_path / "shard.npz").exists()


def test_a_missing_shard_is_named(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    (dataset_directory / "test/shard-00000.npz").unlink()
    with pytest.raises(ContractError, match="the shard file is missing; prepare the dataset again") as caught:
        manifest.verify(dataset_directory)
    assert caught.value.source == str(dataset_directory / "test/shard-00000.npz")


def test_a_shard_that_is_a_directory_is_named(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    path = dataset_directory / "test/shard-00000.npz"
    path.unlink()
    path.mkdir()
    with pytest.raises(ContractError, match="the shard file cannot be read") as caught:
        manifest.verify(dataset_directory)
    assert caught.value.source == str(path)


def test_a_tampered_shard_is_refused_by_its_digest(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    path = dataset_directory / "train/shard-00001.npz"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ContractError, match="SHA-256 does not match the manifest") as caught:
        manifest.verify(dataset_directory)
    assert caught.value.source == str(path)
    assert str(caught.value).endswith("the file is corrupt or was changed; prepare the dataset again")


def test_a_truncated_shard_is_refused_by_its_digest(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    path = dataset_directory / "train/shard-00000.npz"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ContractError, match="SHA-256 does not match"):
        manifest.verify(dataset_directory)


def record_for(directory, relative_path, data: bytes, rows: int = 1) -> ShardRecord:
    """Put ``data`` in place as a shard whose digest is right, so that what is inside is what gets checked."""
    (directory / relative_path).write_bytes(data)
    return ShardRecord(relative_path, rows, sha256_bytes(data))


def test_a_shard_that_is_a_single_npy_array_is_refused(tmp_path):
    buffer = io.BytesIO()
    numpy.save(buffer, numpy.zeros((1, 4), numpy.float32))
    record = record_for(tmp_path, "single.npy", buffer.getvalue())
    with pytest.raises(ContractError, match=r"the shard is not a numpy \.npz archive") as caught:
        read_shard(tmp_path, record, FEATURES)
    assert caught.value.source == str(tmp_path / "single.npy")


@pytest.mark.parametrize("data", [b"", b"just text", b"PK\x03\x04 truncated zip"])
def test_a_shard_that_is_not_an_archive_is_refused(tmp_path, data):
    record = record_for(tmp_path, "garbage.npz", data)
    with pytest.raises(ContractError, match=r"not a numpy \.npz archive"):
        read_shard(tmp_path, record, FEATURES)


def test_a_shard_holding_a_pickled_object_array_is_refused_without_unpickling(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, archive.open("pixels.npy", "w") as member:
        numpy.lib.format.write_array(member, numpy.array([{"code": "runs"}], dtype=object), allow_pickle=True)
    record = record_for(tmp_path, "pickled.npz", buffer.getvalue())
    with pytest.raises(ContractError, match=r"cannot be read as a numpy archive .*allow_pickle=False"):
        read_shard(tmp_path, record, FEATURES)


def archive_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive of the given members, written the way any zip tool would."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def npy_bytes(array: numpy.ndarray, version: tuple[int, int] | None = None) -> bytes:
    """One array in the ``.npy`` format, in the given format version."""
    buffer = io.BytesIO()
    numpy.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def owner_of(array: numpy.ndarray) -> numpy.ndarray:
    """The array that holds ``array``'s memory: itself, or the last array it is a view of."""
    while isinstance(array.base, numpy.ndarray):
        array = array.base
    return array


def test_read_shard_returns_writable_aligned_views_of_one_read_buffer(tmp_path):
    record = write_shard(tmp_path, "shard.npz", shard_arrays(5), FEATURES)
    arrays = read_shard(tmp_path, record, FEATURES)
    # The first member's data lands aligned for float32, so it is a view of the buffer the file was read into;
    # the second one's int64 data is not aligned for its dtype in the archive, so it is copied.
    assert isinstance(owner_of(arrays["pixels"]).base, memoryview)
    assert owner_of(arrays["pixels"]).base.obj.nbytes == (tmp_path / "shard.npz").stat().st_size
    assert owner_of(arrays["label"]).flags.owndata
    for name, expected in shard_arrays(5).items():
        numpy.testing.assert_array_equal(arrays[name], expected)
        assert arrays[name].flags.writeable
        assert arrays[name].flags.aligned
    arrays["pixels"][0, 0] = -1.0  # writable: a consumer may change its copy of the data in place
    assert read_shard(tmp_path, record, FEATURES)["pixels"][0, 0] == shard_arrays(5)["pixels"][0, 0]


def test_decode_shard_copies_out_of_read_only_bytes_and_shares_a_writable_buffer(tmp_path):
    record = write_shard(tmp_path, "shard.npz", shard_arrays(2), FEATURES)
    data = (tmp_path / "shard.npz").read_bytes()
    from_bytes = decode_shard(data, record, FEATURES, "memory://shard.npz")
    assert owner_of(from_bytes["pixels"]).flags.owndata
    assert from_bytes["pixels"].flags.writeable
    writable = bytearray(data)
    shared = decode_shard(writable, record, FEATURES, "memory://shard.npz")
    assert numpy.shares_memory(shared["pixels"], numpy.frombuffer(writable, dtype=numpy.uint8))
    for name, expected in shard_arrays(2).items():
        numpy.testing.assert_array_equal(from_bytes[name], expected)
        numpy.testing.assert_array_equal(shared[name], expected)


def test_a_fortran_ordered_member_is_read_in_its_logical_order(tmp_path):
    features = (TensorSpecification("values", "float64", (2,)),)
    values = numpy.asfortranarray(numpy.arange(6, dtype=numpy.float64).reshape(3, 2))
    data = archive_of({"values.npy": npy_bytes(values)})
    record = record_for(tmp_path, "fortran.npz", data, rows=3)
    read = read_shard(tmp_path, record, features)["values"]
    numpy.testing.assert_array_equal(read, values)
    assert read.flags.f_contiguous


@pytest.mark.parametrize(
    ("compression", "version", "trailing"),
    [
        (zipfile.ZIP_DEFLATED, None, b""),  # numpy.savez_compressed's archives
        (zipfile.ZIP_STORED, (3, 0), b""),  # a .npy version the fast path leaves to numpy
        (zipfile.ZIP_STORED, None, b"trailing bytes"),  # sizes that do not add up
    ],
)
def test_archives_off_the_fast_path_are_decoded_by_numpy(tmp_path, compression, version, trailing):
    expected = shard_arrays(3)
    members = {f"{name}.npy": npy_bytes(array, version) + trailing for name, array in expected.items()}
    record = record_for(tmp_path, "other.npz", archive_of(members, compression), rows=3)
    arrays = read_shard(tmp_path, record, FEATURES)
    for name, array in expected.items():
        numpy.testing.assert_array_equal(arrays[name], array)
        assert owner_of(arrays[name]).flags.owndata


def test_a_compressed_member_with_a_wrong_crc_is_refused(tmp_path):
    # A stored member's bytes are covered by the file's SHA-256; a compressed one is inflated by zipfile,
    # which checks its CRC-32. The digest below is the corrupt file's, so only the CRC can catch it.
    data = bytearray(
        archive_of({"pixels.npy": npy_bytes(numpy.zeros((3, 4), numpy.float32))}, zipfile.ZIP_DEFLATED)
    )
    directory = data.index(b"PK\x01\x02")
    data[directory + 16] ^= 0xFF  # the CRC-32 recorded in the central directory
    record = record_for(tmp_path, "corrupt.npz", bytes(data), rows=3)
    with pytest.raises(ContractError, match=r"cannot be read as a numpy archive .*CRC"):
        read_shard(tmp_path, record, FEATURES)


def test_a_member_that_is_not_an_array_is_refused(tmp_path):
    record = record_for(tmp_path, "text.npz", archive_of({"pixels.npy": b"not an array at all"}))
    with pytest.raises(ContractError, match=r"cannot be read as a numpy archive .*magic"):
        read_shard(tmp_path, record, FEATURES)


def test_a_member_whose_data_runs_past_the_end_of_the_file_is_refused(tmp_path):
    header = npy_bytes(numpy.zeros((100_000, 4), numpy.float32))[:128]  # 1.6 MB announced, 16 bytes there
    data = bytearray(archive_of({"pixels.npy": header + bytes(16)}))
    directory = data.index(b"PK\x01\x02")
    data[directory + 20 : directory + 28] = (10**7).to_bytes(4, "little") * 2  # the member's sizes, too large
    record = record_for(tmp_path, "short.npz", bytes(data))
    # Before Python 3.13 zipfile reads until the file ends; 3.13 refuses the member's sizes as overlapping.
    with pytest.raises(
        ContractError, match=r"(a member's data runs past the end of the file|Overlapped entries)"
    ):
        read_shard(tmp_path, record, FEATURES)


def test_a_member_held_twice_is_refused(tmp_path):
    member = npy_bytes(numpy.zeros((1, 4), numpy.float32))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pixels.npy", member)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("pixels.npy", member)
    record = record_for(tmp_path, "twice.npz", buffer.getvalue())
    with pytest.raises(ContractError, match=re.escape("holds the member 'pixels.npy' twice")):
        read_shard(tmp_path, record, FEATURES)


@pytest.mark.parametrize(
    ("field_offset", "value", "message"),
    [
        (8, (1).to_bytes(2, "little"), "encrypted, password required"),  # the encrypted flag
        (42, (1).to_bytes(4, "little"), "Bad magic number for file header"),  # a local header off by one
        (42, (2**31).to_bytes(4, "little"), "Truncated file header"),  # beyond the file
        (10, (99).to_bytes(2, "little"), "compression method is not supported"),  # an unknown compression
    ],
)
def test_a_member_whose_directory_entry_is_wrong_is_refused(tmp_path, field_offset, value, message):
    data = bytearray(archive_of({"pixels.npy": npy_bytes(numpy.zeros((1, 4), numpy.float32))}))
    directory = data.index(b"PK\x01\x02")
    data[directory + field_offset : directory + field_offset + len(value)] = value
    record = record_for(tmp_path, "wrong.npz", bytes(data))
    with pytest.raises(ContractError, match=message) as caught:
        read_shard(tmp_path, record, FEATURES)
    assert caught.value.source == str(tmp_path / "wrong.npz")


def test_a_shard_with_the_wrong_arrays_is_refused(tmp_path):
    other_features = (FEATURES[0], TensorSpecification("colour", "uint8", ()))
    arrays = {"pixels": numpy.zeros((2, 4), numpy.float32), "colour": numpy.zeros(2, numpy.uint8)}
    record = write_shard(tmp_path, "other.npz", arrays, other_features)
    with pytest.raises(ContractError, match=re.escape("found ['colour', 'pixels']")) as caught:
        read_shard(tmp_path, record, FEATURES)
    assert caught.value.source == str(tmp_path / "other.npz")


def test_a_shard_with_arrays_of_the_wrong_dtype_names_the_feature(tmp_path):
    wider = (TensorSpecification("pixels", "float64", (4,)), FEATURES[1])
    arrays = {"pixels": numpy.zeros((2, 4)), "label": numpy.zeros(2, numpy.int64)}
    record = write_shard(tmp_path, "wide.npz", arrays, wider)
    with pytest.raises(ContractError, match="'pixels' must have dtype float32") as caught:
        read_shard(tmp_path, record, FEATURES)
    assert caught.value.field == "pixels"


def test_a_shard_whose_rows_differ_from_the_manifest_is_refused(tmp_path):
    record = write_shard(tmp_path, "three.npz", shard_arrays(3), FEATURES)
    understated = ShardRecord(record.path, 2, record.sha256)
    with pytest.raises(ContractError, match="the shard holds 3 rows, the manifest says 2"):
        read_shard(tmp_path, understated, FEATURES)


def test_the_buffer_file_reads_and_seeks_like_a_file_without_copying_the_buffer():
    from shared_contracts.dataset import _BufferFile

    file = io.BufferedReader(_BufferFile(memoryview(b"0123456789")))
    assert file.readable()
    assert file.seekable()
    assert file.read(3) == b"012"
    assert file.seek(-2, io.SEEK_END) == 8
    assert file.read() == b"89"
    assert file.seek(-100, io.SEEK_CUR) == 0  # never before the start
    assert file.read(4) == b"0123"
    assert file.read(100) == b"456789"
    assert file.read(1) == b""


def test_a_shard_larger_than_one_read_chunk_is_hashed_and_read_whole(tmp_path):
    from shared_contracts.dataset import _READ_CHUNK_SIZE

    features = (TensorSpecification("values", "float64", (1024,)),)
    rows = 2 * _READ_CHUNK_SIZE // (1024 * 8) + 3  # two chunks and a part
    values = numpy.random.default_rng(0).random((rows, 1024))
    record = write_shard(tmp_path, "large.npz", {"values": values}, features)
    assert (tmp_path / "large.npz").stat().st_size > 2 * _READ_CHUNK_SIZE
    numpy.testing.assert_array_equal(read_shard(tmp_path, record, features)["values"], values)
    data = bytearray((tmp_path / "large.npz").read_bytes())
    data[_READ_CHUNK_SIZE + 10] ^= 0x01  # one bit in the second chunk
    (tmp_path / "large.npz").write_bytes(bytes(data))
    with pytest.raises(ContractError, match="SHA-256 does not match"):
        read_shard(tmp_path, record, features)
