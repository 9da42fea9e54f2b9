import os

import numpy
import pytest
from carbon_dioxide_forecaster_torch import model

from shared_contracts import ContractError, DatasetManifest

DAY = numpy.datetime64("1970-01-01", "D")


def loader_arrays(directory, split):
    return model.BatchLoader(directory, split, batch_size=1, shuffle=False).arrays


def target_weeks(arrays):
    """The dates of every target week of every window, one row per window."""
    origins = DAY + arrays["origin_day"].astype("timedelta64[D]")
    return origins[:, None] + numpy.arange(1, model.HORIZON_WEEKS + 1).astype("timedelta64[D]") * 7


def history_weeks(arrays):
    origins = DAY + arrays["origin_day"].astype("timedelta64[D]")
    return origins[:, None] + numpy.arange(-model.WINDOW_WEEKS + 1, 1).astype("timedelta64[D]") * 7


def test_the_prepared_dataset_holds_windows_of_the_whole_series(dataset_directory):
    manifest = DatasetManifest.load(dataset_directory)
    manifest.verify(dataset_directory)
    rows = {split.name: split.rows for split in manifest.splits}
    # 2,284 weeks: training windows end before 1994, validation and test take 4 years each.
    assert rows == {"train": 1750, "validation": 197, "test": 197}
    assert len(manifest.split("train").shards) == 4  # 1,750 windows in shards of at most 512
    assert [feature.name for feature in manifest.features] == ["history", "target", "origin_day"]
    assert manifest.preparation["first_week"] == "1958-03-29"
    assert manifest.preparation["last_week"] == "2001-12-29"
    assert len(manifest.preparation["filled_weeks"]) == 59
    assert "public domain" in manifest.license
    assert "statsmodels.datasets.co2" in manifest.source
    test = loader_arrays(dataset_directory, "test")
    assert test["history"].dtype == numpy.float32
    assert test["history"].shape == (197, model.WINDOW_WEEKS)
    assert test["target"].shape == (197, model.HORIZON_WEEKS)
    assert str(target_weeks(test).max()) == "2001-12-29"


def test_the_license_is_what_statsmodels_documents():
    from statsmodels.datasets import co2

    assert co2.COPYRIGHT.strip() == "This is public domain."
    assert "'This is public domain.'" in model.LICENSE


def test_the_split_is_by_time_and_training_sees_no_later_week(dataset_directory):
    train, validation, test = (
        loader_arrays(dataset_directory, split) for split in ("train", "validation", "test")
    )
    validation_start = numpy.datetime64(model.VALIDATION_START, "D")
    test_start = numpy.datetime64(model.TEST_START, "D")
    # Training windows: every week they hold, past and target, comes before the validation period.
    assert target_weeks(train).max() < validation_start
    assert history_weeks(train).max() < validation_start
    # Every week a validation or test window forecasts comes after every week of every training window.
    assert target_weeks(validation).min() >= validation_start
    assert target_weeks(validation).max() < test_start
    assert target_weeks(test).min() >= test_start
    # Their past may reach back into earlier periods: that is the past, which a forecaster may see.
    assert history_weeks(test).min() < test_start
    # Windows follow each other week by week, so consecutive windows overlap by all but one week.
    assert numpy.array_equal(train["history"][1][:-1], train["history"][0][1:])
    assert train["history"][1][-1] == train["target"][0][0]
    assert (numpy.diff(train["origin_day"]) == 7).all()


def test_windows_hold_the_series_values_of_their_weeks(dataset_directory):
    days, measured = model.read_source_series()
    values, missing = model.fill_missing_weeks(measured)
    test = loader_arrays(dataset_directory, "test")
    last = numpy.searchsorted(days, DAY + numpy.timedelta64(int(test["origin_day"][-1]), "D"))
    assert numpy.array_equal(
        test["history"][-1], values[last - model.WINDOW_WEEKS + 1 : last + 1].astype("f4")
    )
    assert numpy.array_equal(test["target"][-1], values[last + 1 :].astype(numpy.float32))
    assert numpy.isfinite(values).all()
    assert missing.sum() == 59


def test_no_filled_week_lies_near_a_split_boundary(dataset_directory):
    """A filled week is drawn from measured weeks on both sides; none is within two years of a boundary."""
    filled = numpy.array(DatasetManifest.load(dataset_directory).preparation["filled_weeks"], "datetime64[D]")
    assert filled.max() < numpy.datetime64(model.VALIDATION_START, "D") - numpy.timedelta64(2 * 365, "D")


def test_missing_weeks_are_filled_on_a_straight_line():
    values, missing = model.fill_missing_weeks(
        numpy.array([1.0, numpy.nan, numpy.nan, 4.0, 5.0, numpy.nan, 9.0])
    )
    assert values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 9.0]
    assert missing.tolist() == [False, True, True, False, False, True, False]


@pytest.mark.parametrize("values", [[numpy.nan, 1.0, 2.0], [1.0, 2.0, numpy.nan], [numpy.nan, numpy.nan]])
def test_a_series_must_begin_and_end_with_a_measured_week(values):
    with pytest.raises(model.ZooError, match="begin and end with a measured week"):
        model.fill_missing_weeks(numpy.array(values))


def test_the_weeks_must_be_consecutive():
    weeks = numpy.array(["2001-01-06", "2001-01-13", "2001-01-20"], "datetime64[D]")
    model.check_consecutive_weeks(weeks)
    gap = numpy.array(["2001-01-06", "2001-01-13", "2001-01-27"], "datetime64[D]")
    with pytest.raises(model.ZooError, match="2001-01-13 is followed by 2001-01-27"):
        model.check_consecutive_weeks(gap)


def test_windows_and_the_seasonal_naive_forecast_by_hand():
    """With the week's index as its value, every position is easy to check."""
    values = numpy.arange(300, dtype=numpy.float64)
    days = numpy.datetime64("2000-01-01", "D") + 7 * numpy.arange(300).astype("timedelta64[D]")
    windows = model.make_windows(values, days, 150, 200)
    first_targets = numpy.arange(150, 200 - model.HORIZON_WEEKS + 1)
    assert windows["target"][:, 0].tolist() == first_targets.tolist()
    assert windows["history"][0].tolist() == list(range(150 - model.WINDOW_WEEKS, 150))
    assert windows["origin_day"][0] == (days[149] - DAY).astype(int)
    naive = model.seasonal_naive_forecast(windows["history"])
    # The seasonal-naive forecast of each target week is the value 52 weeks before it.
    assert numpy.array_equal(naive, windows["target"] - model.SEASON_WEEKS)
    early = model.make_windows(values, days, 0, 150)
    assert early["history"][0].tolist() == list(range(model.WINDOW_WEEKS))  # never before the series starts


# Copied from digits-classifier-torch:tests.test_data.test_preparing_again_keeps_an_intact_dataset_untouched
def test_preparing_again_keeps_an_intact_dataset_untouched(dataset_copy):
    manifest_path = dataset_copy / "manifest.json"
    before = manifest_path.stat().st_mtime_ns
    fingerprint = DatasetManifest.load(dataset_copy).fingerprint()
    assert model.prepare_dataset(dataset_copy).fingerprint() == fingerprint
    assert manifest_path.stat().st_mtime_ns == before


def test_a_damaged_dataset_is_refused_until_prepared_again_with_force(dataset_copy, dataset_directory):
    shard = next((dataset_copy / "test").glob("*.npz"))
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(
        model.ZooError,
        match=r"SHA-256 does not match.*prepare the dataset again: run `[a-z-]+ prepare-data --force`$",
    ):
        model.prepare_dataset(dataset_copy)
    manifest = model.prepare_dataset(dataset_copy, force=True)
    manifest.verify(dataset_copy)
    assert manifest.fingerprint() == DatasetManifest.load(dataset_directory).fingerprint()  # deterministic
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


def test_the_order_is_fixed_by_seed_and_epoch(dataset_directory):
    loader = model.BatchLoader(dataset_directory, "validation", batch_size=50, seed=7)
    first = [batch["origin_day"].tolist() for batch in loader.batches(1)]
    again = [batch["origin_day"].tolist() for batch in loader.batches(1)]
    other_epoch = [batch["origin_day"].tolist() for batch in loader.batches(2)]
    assert first == again
    assert first != other_epoch
    assert len(first) == len(loader) == -(-loader.rows // 50)
    assert sorted(day for batch in first for day in batch) == sorted(loader.arrays["origin_day"].tolist())


def test_unshuffled_order_is_the_stored_order(dataset_directory):
    loader = model.BatchLoader(dataset_directory, "test", batch_size=100, shuffle=False)
    joined = numpy.concatenate([batch["history"] for batch in loader.batches(5)])
    assert numpy.array_equal(joined, loader.arrays["history"])


def test_ranks_see_every_window_exactly_once(dataset_directory):
    seen = []
    for rank in range(3):
        loader = model.BatchLoader(dataset_directory, "train", batch_size=32, seed=1, rank=rank, world_size=3)
        seen.append(numpy.concatenate([batch["origin_day"] for batch in loader.batches(4)]))
        assert loader.rows == len(seen[-1])
    everything = numpy.concatenate(seen)
    full = model.BatchLoader(dataset_directory, "train", batch_size=32).arrays["origin_day"]
    assert sorted(everything.tolist()) == sorted(full.tolist())


# Copied from digits-classifier-torch:tests.test_data.test_a_rank_outside_the_world_is_refused
def test_a_rank_outside_the_world_is_refused(dataset_directory):
    with pytest.raises(model.ZooError, match=r"rank must be in \[0, 2\)"):
        model.BatchLoader(dataset_directory, "train", batch_size=4, rank=2, world_size=2)


def test_home_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "elsewhere"))
    assert model.zoo_home() == tmp_path / "elsewhere"
    expected = tmp_path / "elsewhere" / "datasets" / "mauna-loa-carbon-dioxide-weekly" / "1"
    assert model.default_dataset_directory() == expected
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
