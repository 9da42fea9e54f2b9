"""The server's settings: one frozen dataclass that the command line fills and every worker receives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
"""The address served by default: the loopback interface only, so nothing outside the machine can reach it."""
DEFAULT_PORT = 8000
"""The port served by default, the one NVIDIA Triton uses for HTTP."""
DEFAULT_MAXIMUM_REQUEST_BODY_BYTES = 64 * 1024 * 1024
"""The largest request body accepted by default (64 MiB), after decompression."""
DEFAULT_REQUEST_TIMEOUT_SECONDS = 60.0
"""How long a request may take by default to send its body, and separately to be answered by the model."""
DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS = 5
"""How long an idle connection is kept open by default."""


@dataclass(frozen=True)
class ServerSettings:
    """Everything that decides how the server runs; see ``inference-server serve --help``."""

    model_repository: Path
    """The Triton-layout model repository to serve: ``<repository>/<model>/config.pbtxt`` and versions."""
    host: str = DEFAULT_HOST
    """The address to bind."""
    port: int = DEFAULT_PORT
    """The port to bind (0 picks a free one, for tests)."""
    workers: int = 1
    """How many worker processes answer requests, each with its own copy of every model."""
    maximum_request_body_bytes: int = DEFAULT_MAXIMUM_REQUEST_BODY_BYTES
    """Bodies above this size are refused with 413."""
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    """The time a client has to send its body (408 after it), and the model to answer (503 after it)."""
    keep_alive_timeout_seconds: int = DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS
    """How long an idle keep-alive connection stays open."""
    maximum_concurrent_connections: int | None = None
    """Above this many connections and requests at once, a worker answers 503; ``None`` for no limit."""
    bearer_token: str | None = None
    """When set, every route except the health routes needs ``Authorization: Bearer <token>``."""
    access_log: bool = True
    """Whether every request is logged."""
    strict_readiness: bool = False
    """Whether the server is ready only when every model is ready (otherwise: once loading has ended)."""
    log_level: str = "info"
    """The logging level: critical, error, warning, info or debug."""
