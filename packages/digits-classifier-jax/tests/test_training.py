import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time

import jax
import numpy
import optax
import pytest
import safetensors.numpy
from digits_classifier_jax import model
from flax import nnx
from tiny_configuration import TINY

from shared_contracts import DatasetManifest, RunRecord, sha256_file


# Copied from digits-classifier-torch:tests.test_training.checkpoint_digests
def checkpoint_digests(run_directory):
    return [sha256_file(run_directory / c.path) for c in RunRecord.load(run_directory).checkpoints]


def test_a_tiny_run_writes_a_complete_run_directory(tiny_run, dataset_directory):
    record = RunRecord.load(tiny_run)
    assert record.status == "completed"
    assert record.model_name == model.MODEL_NAME
    assert record.configuration == TINY.to_dict()
    assert record.dataset_fingerprint == DatasetManifest.load(dataset_directory).fingerprint()
    assert [epoch.epoch for epoch in record.epochs] == [1, 2]
    assert set(record.epochs[0].metrics) == {"train_loss", "validation_loss", "validation_accuracy"}
    assert set(record.final_metrics) == set(model.HIGHER_IS_BETTER)
    assert [c.epoch for c in record.checkpoints] == [1, 2]
    assert checkpoint_digests(tiny_run) == [c.sha256 for c in record.checkpoints]
    assert record.environment.libraries["jax"] == jax.__version__
    assert record.environment.libraries["xla_backend"] == "cpu"
    assert record.environment.threads == {"processor_cores": len(os.sched_getaffinity(0))}
    assert record.reproduction_tolerance == model.REPRODUCTION_TOLERANCE
    assert record.finished_at is not None
    assert "epoch 2" in (tiny_run / "training.log").read_text()


# Copied from digits-classifier-torch:tests.test_training.test_two_runs_with_the_same_seed_are_bit_identical
def test_two_runs_with_the_same_seed_are_bit_identical(tiny_run, dataset_directory, tmp_path):
    again = tmp_path / "again"
    record = model.train(TINY, dataset_directory=dataset_directory, run_directory=again, progress=False)
    assert checkpoint_digests(again) == checkpoint_digests(tiny_run)
    assert record.epochs == RunRecord.load(tiny_run).epochs
    assert record.final_metrics == RunRecord.load(tiny_run).final_metrics


# Copied from digits-classifier-torch:tests.test_training.test_another_seed_gives_other_weights
def test_another_seed_gives_other_weights(tiny_run, dataset_directory, tmp_path):
    other = tmp_path / "other"
    configuration = dataclasses.replace(TINY, seed=1, epochs=1)
    model.train(configuration, dataset_directory=dataset_directory, run_directory=other, progress=False)
    assert checkpoint_digests(other)[0] != checkpoint_digests(tiny_run)[0]


# Copied from digits-classifier-torch:tests.test_training.test_resuming_after_an_interruption_ends_bit_identical
def test_resuming_after_an_interruption_ends_bit_identical(tiny_run, dataset_directory, tmp_path, capsys):
    run_directory = tmp_path / "interrupted"
    stopped = model.train(
        TINY, dataset_directory=dataset_directory, run_directory=run_directory, stop_after_epoch=1
    )
    assert stopped.status == "interrupted"
    assert "epoch 1/2" in capsys.readouterr().err
    resumed = model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, resume=True)
    assert resumed.status == "completed"
    assert checkpoint_digests(run_directory) == checkpoint_digests(tiny_run)
    assert resumed.epochs == RunRecord.load(tiny_run).epochs


# Copied from digits-classifier-torch:tests.test_training.test_resuming_a_run_stopped_after_its_last_epoch_only_evaluates
def test_resuming_a_run_stopped_after_its_last_epoch_only_evaluates(tiny_run, dataset_directory, tmp_path):
    run_directory = tmp_path / "last"
    model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, stop_after_epoch=2)
    assert RunRecord.load(run_directory).status == "interrupted"
    resumed = model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, resume=True)
    assert resumed.status == "completed"
    assert resumed.final_metrics == RunRecord.load(tiny_run).final_metrics
    assert checkpoint_digests(run_directory) == checkpoint_digests(tiny_run)


# Copied from digits-classifier-torch:tests.test_training.test_resuming_a_run_killed_before_its_first_checkpoint_starts_over
def test_resuming_a_run_killed_before_its_first_checkpoint_starts_over(tiny_run, dataset_directory, tmp_path):
    run_directory = tmp_path / "early"
    model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, stop_after_epoch=1)
    record = RunRecord.load(run_directory)
    record.evolve(epochs=(), checkpoints=(), status="running").save(run_directory)
    model.train(TINY, dataset_directory=dataset_directory, run_directory=run_directory, resume=True)
    assert checkpoint_digests(run_directory) == checkpoint_digests(tiny_run)


def test_resuming_is_refused_when_it_cannot_be_exact(tiny_run, tiny_run_copy, dataset_directory, tmp_path):
    with pytest.raises(model.ZooError, match="already complete"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)
    record = RunRecord.load(tiny_run_copy)
    record.evolve(status="interrupted").save(tiny_run_copy)
    other = dataclasses.replace(TINY, learning_rate=0.5)
    with pytest.raises(model.ZooError, match=r"changed: learning_rate \(run: 0.002, given: 0.5\)"):
        model.train(other, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)
    manifest = DatasetManifest.load(dataset_directory)
    other_dataset = tmp_path / "other-dataset"
    import shutil

    shutil.copytree(dataset_directory, other_dataset)
    dataclasses.replace(manifest, version="changed").save(other_dataset)
    with pytest.raises(model.ZooError, match="resume with the run's dataset"):
        model.train(TINY, dataset_directory=other_dataset, run_directory=tiny_run_copy, resume=True)
    last = tiny_run_copy / record.checkpoints[-1].path
    damaged = bytearray(last.read_bytes())
    damaged[-1] ^= 0xFF  # flip the last byte's bits, whatever it was
    last.write_bytes(bytes(damaged))
    with pytest.raises(model.ZooError, match="corrupt or was changed"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)
    last.unlink()
    with pytest.raises(model.ZooError, match="checkpoint is missing"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run_copy, resume=True)


# Copied from digits-classifier-torch:tests.test_training.test_a_checkpoint_of_another_configuration_is_refused
def test_a_checkpoint_of_another_configuration_is_refused(tiny_run):
    record = RunRecord.load(tiny_run)
    with pytest.raises(model.ZooError, match="written with another configuration"):
        model.load_checkpoint(tiny_run, record.checkpoints[-1], dataclasses.replace(TINY, seed=5))


# Copied from digits-classifier-torch:tests.test_training.test_an_existing_run_name_is_not_overwritten
def test_an_existing_run_name_is_not_overwritten(tiny_run, dataset_directory):
    before = (tiny_run / "run.json").read_bytes()
    with pytest.raises(model.ZooError, match="resume it with --resume"):
        model.train(TINY, dataset_directory=dataset_directory, run_directory=tiny_run)
    assert (tiny_run / "run.json").read_bytes() == before


# Copied from digits-classifier-torch:tests.test_training.test_a_run_that_fails_is_recorded_as_failed
def test_a_run_that_fails_is_recorded_as_failed(dataset_copy, tmp_path):
    for shard in (dataset_copy / "validation").glob("*.npz"):
        shard.unlink()
    run_directory = tmp_path / "failing"
    with pytest.raises(Exception, match="shard file is missing"):
        model.train(TINY, dataset_directory=dataset_copy, run_directory=run_directory, progress=False)
    assert RunRecord.load(run_directory).status == "failed"
    assert "failed" in (run_directory / "training.log").read_text()


class InterruptAfterTheFirstEpoch(logging.Handler):
    """Presses Ctrl-C, a real SIGINT to this process, when the model logs its first epoch.

    The signal is raised in the training's own thread at a known point, so that the interrupt lands in the
    model's code (a signal sent from another thread at a random moment can land inside the coverage
    tracer, which then loses the lines that handle it).
    """

    def emit(self, record):
        if record.getMessage().startswith("epoch 1:"):
            signal.raise_signal(signal.SIGINT)


def test_an_interrupt_is_recorded_and_the_command_says_how_to_resume(dataset_directory, tmp_path, capsys):
    runs = tmp_path / "runs"
    # The tiny network (compiled once for the whole session) for many epochs, interrupted after its first.
    long_options = ["--epochs", "400", "--channels", "4", "--hidden-size", "16", "--batch-size", "64"]
    interrupter = InterruptAfterTheFirstEpoch()
    logging.getLogger(model.MODEL_NAME).addHandler(interrupter)
    try:
        status = model.main(
            [
                "train",
                *long_options,
                "--run-name",
                "stopped",
                "--no-progress",
                "--dataset-directory",
                str(dataset_directory),
                "--runs-directory",
                str(runs),
            ]
        )
    finally:
        logging.getLogger(model.MODEL_NAME).removeHandler(interrupter)
    assert status == 130
    assert "train --resume" in capsys.readouterr().err
    record = RunRecord.load(runs / "stopped")
    assert record.status == "interrupted"
    assert len(record.epochs) == 1
    assert "interrupted: KeyboardInterrupt()" in (runs / "stopped" / "training.log").read_text()


# Copied from digits-classifier-torch:tests.test_training.test_a_killed_training_process_resumes_bit_identical with digits-classifier-torch->digits-classifier-jax
def test_a_killed_training_process_resumes_bit_identical(dataset_directory, tmp_path):
    """SIGKILL a real training process in the middle of an epoch, resume it, compare with a clean run."""
    # Enough epochs that the process is still training when the poll below sees its third one.
    configuration = dataclasses.replace(TINY, epochs=20)
    options = ["--epochs", "20", "--channels", "4", "--hidden-size", "16", "--batch-size", "64"]
    runs = tmp_path / "runs"
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    environment.pop("COV_CORE_SOURCE", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digits_classifier_jax",
            "train",
            *options,
            "--run-name",
            "killed",
            "--dataset-directory",
            str(dataset_directory),
            "--runs-directory",
            str(runs),
            "--no-progress",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    record_path = runs / "killed" / "run.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if record_path.exists() and len(json.loads(record_path.read_text())["epochs"]) >= 3:
            break
        assert process.poll() is None, "the training process ended before it could be killed"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = RunRecord.load(runs / "killed")
    assert killed.status == "running"  # a SIGKILL leaves no chance to write anything else
    assert 3 <= len(killed.epochs) < 20
    assert not list((runs / "killed").rglob("*.partial"))
    model.train(
        configuration, dataset_directory=dataset_directory, run_directory=runs / "killed", resume=True
    )
    model.train(
        configuration, dataset_directory=dataset_directory, run_directory=runs / "clean", progress=False
    )
    assert checkpoint_digests(runs / "killed") == checkpoint_digests(runs / "clean")
    assert RunRecord.load(runs / "killed").epochs == RunRecord.load(runs / "clean").epochs


def test_devices():
    processor = jax.devices("cpu")[0]
    assert model.resolve_device("cpu") == processor
    with pytest.raises(model.ZooError, match="device must be auto, cpu or cuda"):
        model.resolve_device("tpu")
    if model.cuda_devices():  # on a GPU machine with JAX's CUDA plugin the automatic choice is the GPU
        assert model.resolve_device("auto") == model.resolve_device("cuda") == model.cuda_devices()[0]
        assert model.environment_record(model.cuda_devices()[0]).device.startswith("cuda:0 (")
    else:
        assert model.resolve_device("auto") == processor
        with pytest.raises(model.ZooError, match=r"sees no CUDA device; install JAX's CUDA plugin"):
            model.resolve_device("cuda")
    record = model.environment_record(processor)
    assert record.device == "cpu"
    assert record.python.count(".") == 2
    assert set(record.libraries) == {*model.LIBRARIES, "xla_backend"}


def test_the_xla_flags_are_set_before_jax_starts_and_keep_the_users_own():
    for flag in model.XLA_FLAGS:
        assert flag in os.environ["XLA_FLAGS"].split()
    # The user's own flags, one of them the model's: kept in their order, and nothing added twice.
    environment = {
        **os.environ,
        "XLA_FLAGS": "--xla_gpu_deterministic_ops=true --xla_force_host_platform_device_count=1",
    }
    environment.pop("COV_CORE_SOURCE", None)
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, jax; from digits_classifier_jax import model; "
            "print(os.environ['XLA_FLAGS']); print(float(jax.numpy.ones(3).sum()))",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    flags, total = completed.stdout.splitlines()
    assert flags.split() == ["--xla_gpu_deterministic_ops=true", "--xla_force_host_platform_device_count=1"]
    assert total == "3.0"  # XLA accepted every flag when it started


def test_the_step_size_decays_along_a_cosine_to_zero_as_optax_schedules_it():
    sizes = [model.step_size(0.002, step, 100) for step in range(101)]
    assert sizes[0] == 0.002
    assert sizes[50] == pytest.approx(0.001)
    assert sizes[100] == pytest.approx(0.0, abs=1e-15)
    assert sizes == sorted(sizes, reverse=True)
    schedule = optax.cosine_decay_schedule(0.002, decay_steps=100)
    numpy.testing.assert_allclose(sizes, schedule(numpy.arange(101)), rtol=1e-5, atol=1e-9)


def test_the_optimizer_holds_the_configurations_hyperparameters_in_its_state():
    parameters = model.network_parameters(model.new_network(TINY))
    optimizer, state = model.new_optimizer(parameters, dataclasses.replace(TINY, learning_rate=0.5))
    assert optimizer is model.OPTIMIZER  # one optimiser for every configuration: one compiled step
    assert float(state.hyperparams["learning_rate"]) == 0.5
    assert float(state.hyperparams["weight_decay"]) == pytest.approx(TINY.weight_decay)
    assert state.hyperparams["weight_decay"].dtype == numpy.float32


def test_scores_of_any_batch_size_share_a_few_compilations():
    assert [model.compiled_batch_size(rows) for rows in (0, 1, 2, 3, 4, 5, 359, 512, 513)] == [
        1,
        1,
        2,
        4,
        4,
        8,
        512,
        512,
        1024,
    ]
    padded = model.padded_rows(numpy.ones((3, 64), numpy.float32), 4)
    assert padded.shape == (4, 64)
    assert padded[3].sum() == 0
    assert padded[:3].sum() == 3 * 64
    structure = model.network_structure(TINY)
    parameters = model.network_parameters(model.new_network(TINY))
    pixels = numpy.random.default_rng(0).uniform(0, 16, (5, 64)).astype(numpy.float32)
    scores = model.network_scores(structure, parameters, pixels)
    assert scores.shape == (5, 10)
    assert isinstance(scores, numpy.ndarray)
    numpy.testing.assert_allclose(
        model.network_scores(structure, parameters, pixels[:3]), scores[:3], atol=1e-5
    )
    assert model.network_scores(structure, parameters, pixels[:0]).shape == (0, 10)


def test_dropout_applies_only_with_a_key():
    network = nnx.jit(lambda network, pixels, key=None: network(pixels, key))  # compiled: seconds faster
    tiny = model.new_network(TINY)
    pixels = numpy.full((4, 64), 8.0, numpy.float32)
    assert numpy.array_equal(network(tiny, pixels), network(tiny, pixels))
    key = jax.random.key(3)
    assert numpy.array_equal(network(tiny, pixels, key), network(tiny, pixels, key))
    assert not numpy.array_equal(network(tiny, pixels, key), network(tiny, pixels))
    assert network(tiny, pixels).shape == (4, 10)


def test_initial_weights_and_dropout_come_from_separate_streams_of_the_seed():
    weights_key, dropout_key = model.random_keys(7)
    assert not numpy.array_equal(jax.random.key_data(weights_key), jax.random.key_data(dropout_key))
    again = model.random_keys(7)
    assert numpy.array_equal(jax.random.key_data(again[0]), jax.random.key_data(weights_key))
    first = model.named_arrays(model.network_parameters(model.new_network(TINY)))
    second = model.named_arrays(model.network_parameters(model.new_network(TINY)))
    other = model.named_arrays(model.network_parameters(model.new_network(dataclasses.replace(TINY, seed=1))))
    assert all(numpy.array_equal(first[name], second[name]) for name in first)
    assert not numpy.array_equal(first["hidden_layer.kernel"], other["hidden_layer.kernel"])


def test_a_checkpoint_holds_every_weight_and_the_optimizer_state_by_name(tiny_run):
    record = RunRecord.load(tiny_run)
    tensors = safetensors.numpy.load_file(tiny_run / record.checkpoints[-1].path)
    weights, optimizer_state = model.load_checkpoint(tiny_run, record.checkpoints[-1], TINY)
    assert set(tensors) == {f"network.{name}" for name in weights} | {
        f"optimizer.{name}" for name in optimizer_state
    }
    assert set(weights) == {
        f"{layer}.{kind}"
        for layer in ("first_convolution", "second_convolution", "hidden_layer", "output_layer")
        for kind in ("kernel", "bias")
    }
    assert weights["first_convolution.kernel"].shape == (3, 3, 1, TINY.channels)
    steps = 2 * -(-1259 // TINY.batch_size)  # two epochs of 1,259 training examples
    assert optimizer_state["count"] == optimizer_state["inner_state.0.count"] == steps
    assert optimizer_state["hyperparams.weight_decay"] == numpy.float32(TINY.weight_decay)
    last_step_size = model.step_size(TINY.learning_rate, steps - 1, steps)
    assert optimizer_state["hyperparams.learning_rate"] == numpy.float32(last_step_size)
    moments = {f"inner_state.0.{moment}.{name}" for moment in ("mu", "nu") for name in weights}
    hyperparameters = {
        f"hyperparams.{name}" for name in ("b1", "b2", "eps", "eps_root", "learning_rate", "weight_decay")
    }
    assert set(optimizer_state) == {"count", "inner_state.0.count"} | hyperparameters | moments


def test_a_checkpoint_of_another_network_is_refused(tiny_run):
    record = RunRecord.load(tiny_run)
    weights, _ = model.load_checkpoint(tiny_run, record.checkpoints[-1], TINY)
    template = model.network_parameters(model.new_network(dataclasses.replace(TINY, hidden_size=8)))
    with pytest.raises(
        model.ZooError,
        match=r"hidden_layer.bias, hidden_layer.kernel, output_layer.kernel differ .*"
        "another version of the model",
    ):
        model.restore_arrays(template, weights, jax.devices("cpu")[0])
    del weights["output_layer.bias"]
    with pytest.raises(model.ZooError, match=r"^the checkpoint does not fit the network: output_layer.bias"):
        model.restore_arrays(
            model.network_parameters(model.new_network(TINY)), weights, jax.devices("cpu")[0]
        )


# Copied from digits-classifier-torch:tests.test_training.test_code_lineage_in_and_outside_a_repository
def test_code_lineage_in_and_outside_a_repository(tmp_path):
    outside = model.code_lineage(tmp_path)
    assert outside.revision is None
    assert outside.dirty is True
    package = tmp_path / "repository" / "packages" / "example"
    package.mkdir(parents=True)
    (tmp_path / "repository" / "shared-contracts").mkdir()
    (tmp_path / "repository" / "shared-contracts" / "contract.py").write_text("VALUE = 1\n")
    (package / "model.py").write_text("print('hello')\n")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path / "repository", check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path / "repository", check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=tmp_path / "repository", check=True)
    clean = model.code_lineage(package)
    assert clean.dirty is False
    assert len(clean.revision) == 40
    assert clean.diff_sha256 is None
    (tmp_path / "repository" / "shared-contracts" / "contract.py").write_text("VALUE = 2\n")
    dirty = model.code_lineage(package)
    assert dirty.dirty is True
    assert dirty.revision == clean.revision
    assert len(dirty.diff_sha256) == 64
    (tmp_path / "repository" / "unrelated.txt").write_text("outside the package's scope\n")
    (tmp_path / "repository" / "shared-contracts" / "contract.py").write_text("VALUE = 1\n")
    assert model.code_lineage(package).dirty is False
    assert model.git_output(["status"], tmp_path / "does-not-exist") is None


# Copied from digits-classifier-torch:tests.test_training.test_lock_digest
def test_lock_digest(tmp_path):
    assert model.lock_sha256(tmp_path) is None
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert model.lock_sha256(tmp_path) == sha256_file(tmp_path / "uv.lock")
    assert model.lock_sha256() == sha256_file(model.PACKAGE_DIRECTORY / "uv.lock")


# Copied from digits-classifier-torch:tests.test_training.test_comparison_with_a_baseline
def test_comparison_with_a_baseline(tiny_run, tmp_path):
    assert model.load_baseline(tmp_path) is None
    assert model.compare_with_baseline({"test_accuracy": 0.5}, None) == ()
    assert "No baseline" in model.format_comparison(())
    baseline = RunRecord.load(tiny_run)
    baseline.save(tmp_path)
    loaded = model.load_baseline(tmp_path)
    metrics = dict(baseline.final_metrics)
    metrics["test_accuracy"] += 0.01
    metrics["test_loss"] += 0.5
    metrics["unknown_metric"] = 1.0
    comparisons = model.compare_with_baseline(metrics, loaded)
    assert [c.metric for c in comparisons] == sorted(model.HIGHER_IS_BETTER)
    table = model.format_comparison(comparisons)
    assert "test_accuracy" in table
    assert "better" in table
    assert "worse" in table
    assert "same" in table
