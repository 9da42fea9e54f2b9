"""The ``inference-server`` command line: ``serve`` a model repository.

Every option has a safe default: the server binds the loopback interface only, limits request bodies and
their time, and needs a bearer token on every route but the health routes as soon as one is given.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from inference_server import __version__
from inference_server.settings import (
    DEFAULT_HOST,
    DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
    DEFAULT_MAXIMUM_REQUEST_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ServerSettings,
)

TOKEN_VARIABLE = "INFERENCE_SERVER_BEARER_TOKEN"
"""The environment variable that can hold the bearer token (instead of --bearer-token-file)."""

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
"""The accepted values of --log-level."""


class CommandLineError(Exception):
    """An option with a value the server cannot run with."""


def _positive_integer(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, found {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, found {text!r}")
    return int(text)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, found {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``inference-server``."""
    parser = argparse.ArgumentParser(
        prog="inference-server",
        description=(
            "Serve a Triton-layout model repository of ONNX models over the Open Inference Protocol "
            "(KServe V2 REST, the protocol NVIDIA Triton speaks). tritonclient.http is the reference client."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a model repository until interrupted (Ctrl+C or SIGTERM)",
        description=(
            "Serve every model of the repository: <repository>/<model>/config.pbtxt and "
            "<repository>/<model>/<version>/model.onnx with its artifact.json. A model.onnx whose SHA-256 "
            "differs from its artifact.json is refused (that model is not ready and says why; the others are "
            "served). Versions follow config.pbtxt's version policy, batching its dynamic_batching, ONNX "
            "Runtime's threads its intra_op_thread_count and inter_op_thread_count parameters."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument(
        "--model-repository",
        type=Path,
        required=True,
        help="the model repository folder, with one folder per model as NVIDIA Triton lays it out",
    )
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="the address to listen on; the default accepts connections from this machine only, "
        "0.0.0.0 accepts them from every network (then set a bearer token)",
    )
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help="the port to listen on")
    serve.add_argument(
        "--workers",
        type=_positive_integer,
        default=1,
        help="how many worker processes answer requests on the same port, each with its own copy of every "
        "model; about one per processor core",
    )
    serve.add_argument(
        "--maximum-request-body-bytes",
        type=_positive_integer,
        default=DEFAULT_MAXIMUM_REQUEST_BODY_BYTES,
        help="requests with a larger body (after decompression) are refused with status 413",
    )
    serve.add_argument(
        "--request-timeout-seconds",
        type=_positive_seconds,
        default=DEFAULT_REQUEST_TIMEOUT_SECONDS,
        help="a client that takes longer to send its body gets status 408; a model that takes longer to "
        "answer (queue included) gets status 503",
    )
    serve.add_argument(
        "--keep-alive-timeout-seconds",
        type=_positive_integer,
        default=DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
        help="how long an idle keep-alive connection stays open",
    )
    serve.add_argument(
        "--maximum-concurrent-connections",
        type=_positive_integer,
        default=None,
        help="above this many open connections and requests at once, each worker answers status 503 "
        "(default: no limit)",
    )
    serve.add_argument(
        "--bearer-token-file",
        type=Path,
        default=None,
        help="a file holding a secret token; every route except /v2/health/live and /v2/health/ready then "
        "needs the header 'Authorization: Bearer <token>'. The environment variable "
        f"{TOKEN_VARIABLE} can hold the token instead (default: no token)",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log one line per request (--no-access-log turns it off, for speed)",
    )
    serve.add_argument(
        "--strict-readiness",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="report the server ready only when every model is ready (by default it is ready once the "
        "repository has been loaded, models that failed included)",
    )
    serve.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="how much the server logs")
    return parser


def _bearer_token(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get(TOKEN_VARIABLE) or None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandLineError(f"cannot read the bearer token file {path}: {error}") from None
    if not token:
        raise CommandLineError(f"the bearer token file {path} is empty; write the token into it")
    return token


def settings_from_arguments(arguments: argparse.Namespace) -> ServerSettings:
    """The server settings from the parsed ``serve`` arguments; raises :class:`CommandLineError`."""
    repository = arguments.model_repository
    if not repository.is_dir():
        raise CommandLineError(
            f"the model repository {repository} is not a folder; export a model into it first, for example "
            "with a model package's export command"
        )
    return ServerSettings(
        model_repository=repository.resolve(),
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        maximum_request_body_bytes=arguments.maximum_request_body_bytes,
        request_timeout_seconds=arguments.request_timeout_seconds,
        keep_alive_timeout_seconds=arguments.keep_alive_timeout_seconds,
        maximum_concurrent_connections=arguments.maximum_concurrent_connections,
        bearer_token=_bearer_token(arguments.bearer_token_file),
        access_log=arguments.access_log,
        strict_readiness=arguments.strict_readiness,
        log_level=arguments.log_level,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        settings = settings_from_arguments(arguments)
    except CommandLineError as error:
        parser.exit(2, f"inference-server: error: {error}\n")
    from inference_server.server import serve  # imported here so that --help answers without ONNX Runtime

    serve(settings)
    return 0
