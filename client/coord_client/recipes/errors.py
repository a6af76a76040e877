"""The one error only recipes raise (kazoo keeps it in kazoo.exceptions)."""

from __future__ import annotations

from coord_client.exceptions import CoordError


class CancelledError(CoordError):
    """A pending acquire was cancelled with `cancel()`."""
