"""Running the application: uvicorn in this process, or several worker processes on one socket.

With one worker, uvicorn serves the application in the calling process. With several, this process binds
the socket, starts the workers (fresh interpreters, ``spawn``), hands each the socket, the settings and the
:class:`~inference_server.repository.RepositoryControl` they share, and watches them: a worker that dies is
replaced, and SIGINT or SIGTERM stops them all gracefully (each finishes the requests it holds).
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import uvicorn

from inference_server.application import InferenceApplication
from inference_server.repository import RepositoryControl
from inference_server.settings import ServerSettings

LOGGER = logging.getLogger("uvicorn.error")

SUPERVISION_INTERVAL_SECONDS = 0.5
"""How often the supervisor looks for workers that died."""
SHUTDOWN_GRACE_SECONDS = 10.0
"""How long a worker has to finish its requests after SIGTERM before it is killed."""


def uvicorn_configuration(settings: ServerSettings, application: Any) -> uvicorn.Config:
    """The uvicorn configuration for the settings: the fast event loop and HTTP parser, no WebSockets."""
    return uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_SECONDS),
        limit_concurrency=settings.maximum_concurrent_connections,
        server_header=False,
        proxy_headers=False,
    )


def run_worker(
    settings: ServerSettings,
    control: RepositoryControl,
    listening_socket: socket.socket,
    metrics_directory: Path,
) -> None:
    """One worker process: serve the application on the socket the supervisor bound."""
    application = InferenceApplication(settings, control, metrics_directory)
    uvicorn.Server(uvicorn_configuration(settings, application)).run(sockets=[listening_socket])


class Supervisor:
    """Starts the worker processes, replaces those that die, and stops them all on a signal."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        """The settings every worker runs with."""
        self.stopping = threading.Event()
        """Set by SIGINT or SIGTERM."""
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[multiprocessing.process.BaseProcess] = []

    def _start_worker(self, control: RepositoryControl, listening_socket: socket.socket) -> Any:
        assert control.directory is not None  # the supervisor gives the control its folder
        process = self.context.Process(
            target=run_worker,
            args=(self.settings, control, listening_socket, control.directory / "metrics"),
            name="inference-server-worker",
        )
        process.start()
        LOGGER.info("started worker process %d", process.pid)
        return process

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM."""
        configuration = uvicorn_configuration(self.settings, None)
        listening_socket = configuration.bind_socket()
        directory = Path(tempfile.mkdtemp(prefix="inference-server-"))
        metrics_directory = directory / "metrics"
        metrics_directory.mkdir()
        control = RepositoryControl(directory)
        handlers = {number: signal.signal(number, self._stop) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.workers = [
                self._start_worker(control, listening_socket) for _ in range(self.settings.workers)
            ]
            while not self.stopping.wait(SUPERVISION_INTERVAL_SECONDS):
                for index, process in enumerate(self.workers):
                    if not process.is_alive():
                        LOGGER.warning(
                            "worker process %d ended (exit code %s); starting another",
                            process.pid,
                            process.exitcode,
                        )
                        self.workers[index] = self._start_worker(control, listening_socket)
        finally:
            for process in self.workers:
                process.terminate()
            for process in self.workers:
                process.join(SHUTDOWN_GRACE_SECONDS + 5)  # uvicorn ends its requests within the grace
                process.kill()  # does nothing to a worker that has ended
                process.join()
            for number, handler in handlers.items():
                signal.signal(number, handler)
            listening_socket.close()
            shutil.rmtree(directory, ignore_errors=True)
            LOGGER.info("stopped")

    def _stop(self, number: int, frame: Any) -> None:
        LOGGER.info("received signal %d; stopping the workers", number)
        self.stopping.set()


def serve(settings: ServerSettings) -> None:
    """Serve the model repository with the settings, until interrupted."""
    if settings.workers == 1:
        uvicorn.Server(uvicorn_configuration(settings, InferenceApplication(settings))).run()
    else:
        Supervisor(settings).run()
