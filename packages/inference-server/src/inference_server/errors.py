"""The one error type of the server: an HTTP status code and a message that says what to change.

Every rejection the server makes (a malformed body, an unknown model, a tensor of the wrong shape) raises
:class:`ProtocolError` with the status code NVIDIA Triton uses for the same mistake, and becomes a
``{"error": "..."}`` response body. Triton's codes: 400 for an invalid argument, 404 for something that does
not exist, 503 for a model that exists but is not ready, 500 for a failure inside the model.
"""

from __future__ import annotations

BAD_REQUEST = 400
"""An invalid argument: malformed JSON, a wrong tensor name, datatype, shape or batch size."""
UNAUTHORIZED = 401
"""The bearer token is missing or wrong."""
NOT_FOUND = 404
"""An unknown model, version or route."""
METHOD_NOT_ALLOWED = 405
"""A known route called with the wrong HTTP method."""
REQUEST_TIMEOUT = 408
"""The client did not send the whole body within the request timeout."""
PAYLOAD_TOO_LARGE = 413
"""The body is above the configured limit."""
INTERNAL_SERVER_ERROR = 500
"""The model itself failed on inputs that passed every check."""
SERVICE_UNAVAILABLE = 503
"""The model exists but is not ready (loading, unloaded, refused at load) or the inference timed out."""


class ProtocolError(Exception):
    """A request the server refuses, with the HTTP status code and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status code of the response."""
        self.message = message
        """What was wrong and what to do, sent as ``{"error": message}``."""


def bad_request(message: str) -> ProtocolError:
    """A 400 error: the request itself is invalid."""
    return ProtocolError(BAD_REQUEST, message)


def not_found(message: str) -> ProtocolError:
    """A 404 error: the model, version or route does not exist."""
    return ProtocolError(NOT_FOUND, message)


def unavailable(message: str) -> ProtocolError:
    """A 503 error: the model exists but cannot answer now."""
    return ProtocolError(SERVICE_UNAVAILABLE, message)
