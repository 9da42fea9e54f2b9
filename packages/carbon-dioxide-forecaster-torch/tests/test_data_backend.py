"""The data backend: datasets read from any fsspec address, streamed shard by shard with prefetching."""

import json
import shutil

import fsspec
import numpy
import pytest
from carbon_dioxide_forecaster_torch import model
from tiny_configuration import TINY

from shared_contracts import (
    ContractError,
    DatasetManifest,
    RunRecord,
    SplitRecord,
    TensorSpecification,
    write_shard,
)

FEATURES = (TensorSpecification("value", "int64", ()), TensorSpecification("double", "float32", (2,)))


@pytest.fixture
def memory_dataset(dataset_directory, request):
    """The prepared carbon dioxide windows copied into fsspec's in-memory file system."""
    memory = fsspec.filesystem("memory")
    root = f"/{request.node.name}"
    for path in dataset_directory.rglob("*"):
        if path.is_file():
            memory.pipe_file(f"{root}/{path.relative_to(dataset_directory).as_posix()}", path.read_bytes())
    yield f"memory://{root}"
    memory.rm(root, recursive=True)


# Copied from digits-classifier-torch:tests.test_data_backend.many_shards
@pytest.fixture
def many_shards(tmp_path):
    """A dataset of 1,000 numbered examples in 13 shards of unequal sizes."""
    shards, start = [], 0
    for index, rows in enumerate([80] * 12 + [40]):
        values = numpy.arange(start, start + rows, dtype=numpy.int64)
        arrays = {"value": values, "double": numpy.stack([values, values * 2], axis=1).astype(numpy.float32)}
        shards.append(write_shard(tmp_path, f"train/shard-{index:03d}.npz", arrays, FEATURES))
        start += rows
    DatasetManifest("numbers", "1", "tests", "none", FEATURES, (SplitRecord("train", tuple(shards)),)).save(
        tmp_path
    )
    return tmp_path


def test_a_dataset_in_object_storage_loads_like_a_local_one(dataset_directory, memory_dataset):
    local = model.BatchLoader(dataset_directory, "train", batch_size=32, seed=3)
    remote = model.BatchLoader(memory_dataset, "train", batch_size=32, seed=3)
    assert remote.manifest.fingerprint() == local.manifest.fingerprint()
    for first, second in zip(local.batches(2), remote.batches(2), strict=True):
        numpy.testing.assert_array_equal(first["history"], second["history"])
        numpy.testing.assert_array_equal(first["target"], second["target"])


# Copied from digits-classifier-torch:tests.test_data_backend.test_training_from_object_storage_is_bit_identical
def test_training_from_object_storage_is_bit_identical(tiny_run, memory_dataset, tmp_path):
    record = model.train(
        TINY, dataset_directory=memory_dataset, run_directory=tmp_path / "remote", progress=False
    )
    assert [c.sha256 for c in record.checkpoints] == [c.sha256 for c in RunRecord.load(tiny_run).checkpoints]


# Copied from digits-classifier-torch:tests.test_data_backend.test_remote_problems_are_named
def test_remote_problems_are_named(memory_dataset):
    memory = fsspec.filesystem("memory")
    root = memory_dataset.removeprefix("memory://")
    manifest = json.loads(memory.cat_file(f"{root}/manifest.json"))
    shard = manifest["splits"][0]["shards"][0]["path"]
    data = memory.cat_file(f"{root}/{shard}")
    tampered = bytearray(data)
    tampered[300] ^= 0xFF
    memory.pipe_file(f"{root}/{shard}", bytes(tampered))
    with pytest.raises(ContractError, match="SHA-256 does not match") as caught:
        model.BatchLoader(memory_dataset, manifest["splits"][0]["name"], batch_size=8)
    assert caught.value.source == f"{memory_dataset}/{shard}"
    memory.rm(f"{root}/{shard}")
    with pytest.raises(ContractError, match="shard file is missing"):
        model.BatchLoader(memory_dataset, manifest["splits"][0]["name"], batch_size=8)
    memory.pipe_file(f"{root}/manifest.json", b"{ truncated")
    with pytest.raises(ContractError, match="not valid JSON"):
        model.load_manifest(memory_dataset)
    with pytest.raises(ContractError, match="no prepared dataset here"):
        model.load_manifest("memory://nowhere/at/all")


# Copied from digits-classifier-torch:tests.test_data_backend.test_every_example_is_streamed_exactly_once_per_epoch_across_ranks_and_workers
def test_every_example_is_streamed_exactly_once_per_epoch_across_ranks_and_workers(many_shards):
    for epoch in (1, 2):
        seen = []
        for rank in range(2):
            for worker in range(3):
                stream = model.ShardStream(
                    many_shards,
                    "train",
                    batch_size=32,
                    seed=5,
                    rank=rank,
                    world_size=2,
                    worker=worker,
                    workers=3,
                )
                seen += [value for batch in stream.batches(epoch) for value in batch["value"].tolist()]
        assert sorted(seen) == list(range(1000))
    stream = model.ShardStream(many_shards, "train", batch_size=1000, seed=5)
    first = [batch["value"].tolist() for batch in stream.batches(1)]
    assert first == [batch["value"].tolist() for batch in stream.batches(1)]
    assert first != [batch["value"].tolist() for batch in stream.batches(2)]
    assert len(first) == 13  # a batch never spans two shards
    for batch in stream.batches(1):
        numpy.testing.assert_array_equal(batch["double"][:, 1], batch["value"] * 2)  # rows stay whole


# Copied from digits-classifier-torch:tests.test_data_backend.test_an_unshuffled_stream_keeps_the_stored_order
def test_an_unshuffled_stream_keeps_the_stored_order(many_shards):
    stream = model.ShardStream(many_shards, "train", batch_size=50, shuffle=False, prefetch=1, threads=1)
    values = [value for batch in stream.batches(0) for value in batch["value"].tolist()]
    assert values == list(range(1000))


# Copied from digits-classifier-torch:tests.test_data_backend.test_a_tampered_shard_stops_the_stream
def test_a_tampered_shard_stops_the_stream(many_shards):
    shard = next((many_shards / "train").glob("shard-005.npz"))
    shard.write_bytes(shard.read_bytes()[:-4])
    stream = model.ShardStream(many_shards, "train", batch_size=100, shuffle=False)
    with pytest.raises(ContractError, match="SHA-256 does not match"):
        list(stream.batches(0))


# Copied from digits-classifier-torch:tests.test_data_backend.test_impossible_stream_settings_are_refused
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rank": 2, "world_size": 2}, "rank must be in"),
        ({"worker": 1, "workers": 1}, "worker in"),
        ({"prefetch": 0}, "prefetch and threads must be at least 1"),
        ({"threads": 0}, "prefetch and threads must be at least 1"),
    ],
)
def test_impossible_stream_settings_are_refused(many_shards, options, message):
    with pytest.raises(model.ZooError, match=message):
        model.ShardStream(many_shards, "train", batch_size=10, **options)


def test_a_local_path_is_not_remote(tmp_path):
    assert not model.is_remote(tmp_path)
    assert model.is_remote("s3://bucket/datasets/carbon-dioxide")
    shutil.rmtree(tmp_path)
