import os

import numpy
import pytest
from digits_classifier_jax import model

from shared_contracts import ContractError, DatasetManifest


# Copied from digits-classifier-torch:tests.test_data.test_prepared_dataset_holds_every_digit_in_a_stratified_split
def test_prepared_dataset_holds_every_digit_in_a_stratified_split(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    manifest.verify(dataset_directory)
    rows = {split.name: split.rows for split in manifest.splits}
    assert sum(rows.values()) == 1797
    assert rows["test"] == pytest.approx(1797 * model.TEST_FRACTION, abs=10)
    assert rows["validation"] == pytest.approx(1797 * model.VALIDATION_FRACTION, abs=10)
    assert len(manifest.split("train").shards) == 3  # 1,259 rows in shards of at most 512
    loader = model.BatchLoader(dataset_directory, "test", batch_size=1000, shuffle=False)
    labels = loader.arrays["label"]
    assert set(numpy.unique(labels)) == set(range(10))
    assert numpy.bincount(labels).min() >= 35
    assert loader.arrays["pixels"].dtype == numpy.float32
    assert loader.arrays["pixels"].max() == 16.0


# Copied from digits-classifier-torch:tests.test_data.test_splits_do_not_overlap
def test_splits_do_not_overlap():
    labels = numpy.repeat(numpy.arange(10), 20)
    parts = model.split_indices(labels, seed=3)
    together = numpy.concatenate(list(parts.values()))
    assert len(together) == len(set(together.tolist())) == 200
    assert model.split_indices(labels, seed=3)["test"].tolist() == parts["test"].tolist()


# Copied from digits-classifier-torch:tests.test_data.test_preparing_again_keeps_an_intact_dataset_untouched
def test_preparing_again_keeps_an_intact_dataset_untouched(dataset_copy):
    manifest_path = dataset_copy / "manifest.json"
    before = manifest_path.stat().st_mtime_ns
    fingerprint = DatasetManifest.load(dataset_copy).fingerprint()
    assert model.prepare_dataset(dataset_copy).fingerprint() == fingerprint
    assert manifest_path.stat().st_mtime_ns == before


# Copied from digits-classifier-torch:tests.test_data.test_a_damaged_dataset_is_refused_until_prepared_again_with_force
def test_a_damaged_dataset_is_refused_until_prepared_again_with_force(dataset_copy):
    shard = next((dataset_copy / "test").glob("*.npz"))
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(
        model.ZooError,
        match=r"SHA-256 does not match.*prepare the dataset again: run `[a-z-]+ prepare-data --force`$",
    ):
        model.prepare_dataset(dataset_copy)
    manifest = model.prepare_dataset(dataset_copy, force=True)
    manifest.verify(dataset_copy)
    assert not any(name.endswith((".partial", ".previous")) for name in os.listdir(dataset_copy.parent))


# Copied from digits-classifier-torch:tests.test_data.test_a_missing_dataset_says_to_prepare_it
def test_a_missing_dataset_says_to_prepare_it(tmp_path):
    with pytest.raises(ContractError, match="prepare-data"):
        model.BatchLoader(tmp_path / "nowhere", "train", batch_size=4)


# Copied from digits-classifier-torch:tests.test_data.test_a_tampered_shard_is_refused_by_the_loader
def test_a_tampered_shard_is_refused_by_the_loader(dataset_copy):
    shard = next((dataset_copy / "train").glob("*.npz"))
    data = bytearray(shard.read_bytes())
    data[200] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ContractError, match="SHA-256 does not match"):
        model.BatchLoader(dataset_copy, "train", batch_size=4)


# Copied from digits-classifier-torch:tests.test_data.test_the_order_is_fixed_by_seed_and_epoch
def test_the_order_is_fixed_by_seed_and_epoch(dataset_directory):
    loader = model.BatchLoader(dataset_directory, "validation", batch_size=50, seed=7)
    first = [batch["label"].tolist() for batch in loader.batches(1)]
    again = [batch["label"].tolist() for batch in loader.batches(1)]
    other_epoch = [batch["label"].tolist() for batch in loader.batches(2)]
    assert first == again
    assert first != other_epoch
    assert len(first) == len(loader) == -(-loader.rows // 50)
    assert sorted(label for batch in first for label in batch) == sorted(loader.arrays["label"].tolist())


# Copied from digits-classifier-torch:tests.test_data.test_unshuffled_order_is_the_stored_order
def test_unshuffled_order_is_the_stored_order(dataset_directory):
    loader = model.BatchLoader(dataset_directory, "test", batch_size=100, shuffle=False)
    joined = numpy.concatenate([batch["pixels"] for batch in loader.batches(5)])
    assert numpy.array_equal(joined, loader.arrays["pixels"])


# Copied from digits-classifier-torch:tests.test_data.test_ranks_see_every_example_exactly_once
def test_ranks_see_every_example_exactly_once(dataset_directory):
    seen = []
    for rank in range(3):
        loader = model.BatchLoader(dataset_directory, "train", batch_size=32, seed=1, rank=rank, world_size=3)
        indices = [batch["pixels"] for batch in loader.batches(4)]
        seen.append(numpy.concatenate(indices))
        assert loader.rows == len(seen[-1])
    everything = numpy.concatenate(seen)
    full = model.BatchLoader(dataset_directory, "train", batch_size=32).arrays["pixels"]
    assert len(everything) == len(full)
    assert {row.tobytes() for row in everything} == {row.tobytes() for row in full}


# Copied from digits-classifier-torch:tests.test_data.test_a_rank_outside_the_world_is_refused
def test_a_rank_outside_the_world_is_refused(dataset_directory):
    with pytest.raises(model.ZooError, match=r"rank must be in \[0, 2\)"):
        model.BatchLoader(dataset_directory, "train", batch_size=4, rank=2, world_size=2)


# Copied from digits-classifier-torch:tests.test_data.test_home_defaults
def test_home_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "elsewhere"))
    assert model.zoo_home() == tmp_path / "elsewhere"
    assert model.default_dataset_directory() == tmp_path / "elsewhere" / "datasets" / "digits" / "1"
    monkeypatch.delenv("ZOO_HOME")
    root = tmp_path / "repository"
    (root / "packages" / "some-model").mkdir(parents=True)
    (root / "shared-contracts").mkdir()
    monkeypatch.chdir(root / "packages" / "some-model")
    assert model.zoo_home() == root.resolve()
    assert model.default_model_repository() == root.resolve() / "model-repository"
    monkeypatch.chdir(tmp_path)
    assert model.zoo_home() == tmp_path.resolve()
    assert model.default_runs_directory() == tmp_path.resolve() / "runs" / model.MODEL_NAME
