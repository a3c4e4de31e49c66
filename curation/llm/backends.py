"""Which backend answers an endpoint when nothing else is asked for: the remote one when the endpoint has a
base_url, the local model when it has none."""

from __future__ import annotations

from .config import Endpoint
from .local import LocalBackend
from .remote import RemoteBackend
from .types import Backend


def default_backends(endpoint: Endpoint) -> Backend:
    """A BackendFactory: the OpenAI-compatible client for a remote endpoint, the in-process model otherwise."""
    return RemoteBackend(endpoint) if endpoint.base_url else LocalBackend(endpoint)
