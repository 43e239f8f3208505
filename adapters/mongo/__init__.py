"""MongoDB adapter: stores on PyMongo's async API and the embedded server."""

from adapters.mongo.catalog import MongoCatalogStore
from adapters.mongo.database import create_client, ensure_indexes, open_database
from adapters.mongo.embedded import EmbeddedMongo, EmbeddedMongoError
from adapters.mongo.kv import MongoKeyValueStore
from adapters.mongo.run_finder import MongoRunFinder
from adapters.mongo.runs import MongoRunStore
from adapters.mongo.users import MongoUserStore

__all__ = [
    "EmbeddedMongo",
    "EmbeddedMongoError",
    "MongoCatalogStore",
    "MongoKeyValueStore",
    "MongoRunFinder",
    "MongoRunStore",
    "MongoUserStore",
    "create_client",
    "ensure_indexes",
    "open_database",
]
