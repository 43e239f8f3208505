"""The HTTP run API: every workflow an endpoint, typed by its own schema, on the chat layer."""

from adapters.api.config import ApiConfig
from adapters.api.platform import ApiPlatform, ApiStores

__all__ = ["ApiConfig", "ApiPlatform", "ApiStores"]
