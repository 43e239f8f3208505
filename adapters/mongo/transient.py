"""Which database errors pass by themselves: the connection was lost or the server could not
be reached in time (https://pymongo.readthedocs.io/en/stable/api/pymongo/errors.html). With
`retryWrites=false` (the embedded server) PyMongo does not try a write again itself."""

from __future__ import annotations

from pymongo.errors import ConnectionFailure


def is_transient(error: BaseException) -> bool:
    """AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError are ConnectionFailures."""
    return isinstance(error, ConnectionFailure)
