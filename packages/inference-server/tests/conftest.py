"""Shared fixtures: one real server on the standard repository for the tests that only read from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.http as triton_http
from inference_server.settings import ServerSettings
from server_support import RunningServer, running_server, standard_repository


@pytest.fixture(scope="session")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard repository, written once for the session; tests must not change it."""
    return standard_repository(tmp_path_factory.mktemp("repository"))


@pytest.fixture(scope="session")
def server(repository: Path) -> Iterator[RunningServer]:
    """A real server on a free loopback port, serving the standard repository."""
    settings = ServerSettings(repository, access_log=False, maximum_request_body_bytes=1_000_000)
    with running_server(settings) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[triton_http.InferenceServerClient]:
    """tritonclient's HTTP client, connected to the session's server."""
    connection = triton_http.InferenceServerClient(server.address)
    yield connection
    connection.close()
