"""The served models of a repository, their states, and the model repository extension (load, unload).

Every model folder of the repository is loaded when the server starts, each in a worker thread, so the
server is live at once and each model becomes ready as soon as its own loading ends. ``load`` reads a model
again from the repository (a new model staged into it, a new version, a new configuration) and swaps it in
only once it has loaded, so requests keep being answered by the old one meanwhile; ``unload`` drops a model.
Requests to the other models are never held up by either.

With several worker processes, each process serves its own copy of every model. A load or an unload is done
by the worker that received it, then published through :class:`RepositoryControl` (a counter in shared
memory and a small state file); every other worker sees the counter change on its next request and applies
the same change before it answers anything about that model.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference_server.errors import bad_request, not_found, unavailable
from inference_server.metrics import Metrics
from inference_server.model import LoadedModel, ModelLoadError, load_model, run_session
from inference_server.scheduling import DynamicBatcher, Scheduler
from shared_contracts import read_json, write_json_atomically

READY = "READY"
"""The state of a model or version that answers requests."""
UNAVAILABLE = "UNAVAILABLE"
"""The state of a model or version that does not answer requests; a reason says why."""
LOADING = "LOADING"
"""The state of a model being loaded for the first time."""

LOAD = "load"
"""The action published when a model was loaded."""
UNLOAD = "unload"
"""The action published when a model was unloaded."""

UNLOADED_REASON = "unloaded through the model repository extension; load it again to serve it"
"""The reason given for a model that was unloaded."""

LOGGER = logging.getLogger("uvicorn.error")

STATE_FILE_NAME = "repository-state.json"
"""The file, in the control directory, that records the last load or unload of every model."""


class RepositoryControl:
    """What the worker processes of one server share: a change counter and the state file.

    Created once by the process that starts the workers and handed to each of them. Reading the counter is
    a read of shared memory, cheap enough to do before every request.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.directory = Path(directory) if directory is not None else None
        """The folder of the state file; a temporary one is made at the first change when not given."""
        self.owns_directory = directory is None
        """Whether the folder was made here, and so is removed by :meth:`close`."""
        self._generation = context.RawValue("q", 0)
        self._lock = context.Lock()

    @property
    def generation(self) -> int:
        """The serial number of the last change published by any worker."""
        return self._generation.value

    @property
    def state_path(self) -> Path | None:
        """The state file: ``{model: {"action": "load" | "unload", "serial": n}}``."""
        return None if self.directory is None else self.directory / STATE_FILE_NAME

    def read(self) -> dict[str, Any]:
        """The last published action and its serial number, by model."""
        path = self.state_path
        if path is None or not path.exists():
            return {}
        return read_json(path, "repository state")

    def publish(self, model_name: str, action: str) -> int:
        """Record that ``model_name`` was loaded or unloaded; returns the change's serial number."""
        with self._lock:
            if self.directory is None:
                self.directory = Path(tempfile.mkdtemp(prefix="inference-server-"))
            state = self.read()
            serial = self._generation.value + 1
            state[model_name] = {"action": action, "serial": serial}
            write_json_atomically(self.directory / STATE_FILE_NAME, state)
            self._generation.value = serial
        return serial

    def close(self) -> None:
        """Remove the state file's folder if it was made here."""
        if self.owns_directory and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class ServedVersion:
    """A ready version and the scheduler that runs requests on it."""

    number: int
    """The version's number."""
    scheduler: Scheduler
    """Runs the requests, one by one or in dynamic batches."""
    labels: tuple[str, ...] = ()
    """The class names of the artifact manifest, for the classification extension."""


@dataclass
class ServedModel:
    """One model of the repository as this worker serves it."""

    name: str
    """The model's name."""
    state: str = LOADING
    """``READY`` (at least one version answers), ``UNAVAILABLE`` or ``LOADING``."""
    reason: str = ""
    """Why the model is unavailable."""
    loaded: LoadedModel | None = None
    """The configuration and versions read from the repository."""
    versions: dict[int, ServedVersion] = field(default_factory=dict)
    """The ready versions, by number."""
    serial: int = 0
    """The serial number of the last published change this worker applied to the model."""
    loading: asyncio.Task | None = None
    """The load in progress, which requests to this model wait for."""

    def version(self, requested: str) -> ServedVersion:
        """The version a request names (the highest ready one for ``""``).

        Raises 404 when the model has no ready version or the version is not served, 503 when the version
        is served but not ready (as Triton answers), 400 when the version is not a number.
        """
        if not self.versions:  # Triton answers 404 too: the model has no available version
            raise not_found(f"model {self.name!r} has no version ready: {self.reason}")
        if not requested:
            return self.versions[max(self.versions)]
        if not (requested.isascii() and requested.isdigit()):
            raise bad_request(f"the model version must be a whole number, found {requested!r}")
        number = int(requested)
        if number in self.versions:
            return self.versions[number]
        assert self.loaded is not None
        version = self.loaded.versions.get(number)
        if version is None:
            raise not_found(
                f"model {self.name!r} has no version {number} being served; the served versions are "
                f"{sorted(self.loaded.versions)} (config.pbtxt's version policy selects them)"
            )
        raise unavailable(f"model {self.name!r} version {number} is not ready: {version.reason}")

    def index_entries(self) -> list[dict[str, str]]:
        """The model's entries in the repository index: one per version, or one for the whole model."""
        if self.loaded is None:
            entry = {"name": self.name, "state": self.state}
            if self.reason:
                entry["reason"] = self.reason
            return [entry]
        entries = []
        for number in sorted(self.loaded.versions):
            version = self.loaded.versions[number]
            entry = {
                "name": self.name,
                "version": str(number),
                "state": READY if version.ready else UNAVAILABLE,
            }
            if not version.ready:
                entry["reason"] = version.reason
            entries.append(entry)
        return entries


class ModelRepository:
    """The models one worker serves, loaded from the repository folder and kept in step with the others."""

    def __init__(self, path: Path, control: RepositoryControl, metrics: Metrics) -> None:
        self.path = Path(path)
        """The model repository's folder."""
        self.control = control
        """Shared with the other workers."""
        self.metrics = metrics
        """The server's metrics, told the size of every batch."""
        self.models: dict[str, ServedModel] = {}
        """Every model this worker knows of, by name."""
        self.seen_generation = 0
        """The control's counter when this worker last applied the published changes."""
        self.started = False
        """Whether the initial loading of the repository has finished."""

    def folder_names(self) -> list[str]:
        """The model folders of the repository (folders holding a ``config.pbtxt``)."""
        if not self.path.is_dir():
            return []
        return sorted(child.name for child in self.path.iterdir() if (child / "config.pbtxt").is_file())

    async def start(self) -> None:
        """Load every model of the repository, except those unloaded through the extension."""
        self.seen_generation = self.control.generation
        published = self.control.read()
        unloaded = {name for name, each in published.items() if each["action"] == UNLOAD}
        names = sorted((set(self.folder_names()) | set(published)) - unloaded)
        for name in unloaded:
            self._unload_locally(name, published[name]["serial"])
        for name in names:
            self.models.setdefault(name, ServedModel(name)).serial = published.get(name, {}).get("serial", 0)
        await asyncio.gather(*[self._start_loading(name) for name in names], return_exceptions=True)
        self.started = True

    def _start_loading(self, name: str) -> asyncio.Task:
        model = self.models.setdefault(name, ServedModel(name))
        model.loading = asyncio.get_running_loop().create_task(self._load_locally(model))
        return model.loading

    async def _load_locally(self, model: ServedModel) -> str:
        """Load ``model`` from the folder and swap it in; returns why it failed, or ``""``."""
        try:
            loaded = await asyncio.to_thread(load_model, self.path, model.name)
        except ModelLoadError as error:
            reason = str(error)
            LOGGER.warning("model %r cannot be loaded: %s", model.name, reason)
            if model.state != READY:
                self._replace(model, None, UNAVAILABLE, reason)
            return reason
        finally:
            if model.loading is asyncio.current_task():
                model.loading = None
        failures = [
            f"version {number}: {each.reason}"
            for number, each in sorted(loaded.versions.items())
            if not each.ready
        ]
        for failure in failures:
            LOGGER.warning("model %r %s", model.name, failure)
        if loaded.ready_versions:
            LOGGER.info("model %r versions %s are ready", model.name, sorted(loaded.ready_versions))
        if failures and model.state == READY:
            return "; ".join(failures)
        if loaded.ready_versions:
            self._replace(model, loaded, READY, "")
        else:
            self._replace(model, loaded, UNAVAILABLE, "no version is ready: " + "; ".join(failures))
        return "; ".join(failures)

    def _replace(self, model: ServedModel, loaded: LoadedModel | None, state: str, reason: str) -> None:
        old = model.versions
        model.versions = {}
        if loaded is not None:
            for number in loaded.ready_versions:
                manifest = loaded.versions[number].manifest
                assert manifest is not None  # a ready version has read its manifest
                model.versions[number] = ServedVersion(
                    number, self._scheduler(loaded, number), manifest.label_names
                )
        model.loaded = loaded
        model.state = state
        model.reason = reason
        for version in old.values():
            version.scheduler.close()

    def _scheduler(self, loaded: LoadedModel, number: int) -> Scheduler:
        configuration = loaded.configuration
        session = loaded.versions[number].session
        run_batch = functools.partial(run_session, session, [each.name for each in configuration.outputs])
        observe = self.metrics.batch_observer(loaded.name, str(number))
        batching = configuration.dynamic_batching
        if batching is None or configuration.max_batch_size == 0:
            return Scheduler(run_batch, configuration.instance_count, observe)
        return DynamicBatcher(
            run_batch,
            configuration.instance_count,
            observe,
            max_batch_size=configuration.max_batch_size,
            max_queue_delay_seconds=batching.max_queue_delay_microseconds / 1_000_000,
            preferred_batch_sizes=batching.preferred_batch_size,
        )

    def _unload_locally(self, name: str, serial: int) -> None:
        model = self.models.setdefault(name, ServedModel(name))
        if model.loading is not None:
            model.loading.cancel()
            model.loading = None
        self._replace(model, None, UNAVAILABLE, UNLOADED_REASON)
        model.serial = serial

    def synchronise(self) -> None:
        """Apply the loads and unloads other workers published since this worker last looked."""
        generation = self.control.generation
        if generation == self.seen_generation:
            return
        self.seen_generation = generation
        for name, each in self.control.read().items():
            model = self.models.get(name)
            if model is not None and each["serial"] <= model.serial:
                continue
            if each["action"] == UNLOAD:
                self._unload_locally(name, each["serial"])
            else:
                self._start_loading(name)
                self.models[name].serial = each["serial"]

    async def get(self, name: str) -> ServedModel:
        """The model a request names, once any load of it in progress has finished; 404 if unknown."""
        self.synchronise()
        model = self.models.get(name)
        if model is None:
            raise not_found(
                f"unknown model {name!r}; the repository {self.path} serves "
                f"{sorted(self.models) or 'no model'}"
            )
        if model.loading is not None:
            await asyncio.wait([model.loading])
        return model

    async def load(self, name: str) -> None:
        """The model repository extension's load: read ``name`` from the folder again and serve it."""
        self.synchronise()
        if name not in self.folder_names():
            raise bad_request(
                f"cannot load model {name!r}: the repository {self.path} has no folder {name!r} with a "
                "config.pbtxt; export the model into the repository first"
            )
        model = self.models.setdefault(name, ServedModel(name))
        if model.loading is not None:
            await asyncio.wait([model.loading])
        task = self._start_loading(name)
        await asyncio.wait([task])
        if task.cancelled():
            raise unavailable(f"model {name!r} was unloaded while it was loading; load it again")
        reason = task.result()
        model.serial = self.control.publish(name, LOAD)
        if reason:
            raise bad_request(f"failed to load model {name!r}: {reason}")

    async def unload(self, name: str) -> None:
        """The model repository extension's unload: stop serving ``name`` (nothing to do if it is unknown)."""
        self.synchronise()
        if name not in self.models:
            return
        self._unload_locally(name, 0)
        self.models[name].serial = self.control.publish(name, UNLOAD)

    def index(self, ready_only: bool) -> list[dict[str, str]]:
        """The repository index: every model folder and every known model, with its versions' states."""
        self.synchronise()
        entries = []
        for name in sorted(set(self.folder_names()) | set(self.models)):
            model = self.models.get(name)
            if model is None:
                listed = [{"name": name, "state": UNAVAILABLE, "reason": "not loaded; load it to serve it"}]
            else:
                listed = model.index_entries()
            entries.extend(entry for entry in listed if not ready_only or entry["state"] == READY)
        return entries

    @property
    def all_ready(self) -> bool:
        """Whether every known model is ready (for strict readiness)."""
        return self.started and all(model.state == READY for model in self.models.values())

    def close(self) -> None:
        """Stop every scheduler (the server is shutting down)."""
        for model in self.models.values():
            if model.loading is not None:
                model.loading.cancel()
            for version in model.versions.values():
                version.scheduler.close()
