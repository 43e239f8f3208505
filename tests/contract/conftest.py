"""Each port's contract suite runs against every implementation listed here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.mongo import (
    MongoCatalogStore,
    MongoKeyValueStore,
    MongoRunFinder,
    MongoRunStore,
    MongoUserStore,
)
from adapters.mongo.accounts import MongoAccountStore
from adapters.mongo.api_keys import MongoApiKeyStore
from adapters.mongo.api_requests import MongoApiRequestStore
from adapters.mongo.deployment_slots import MongoDeploymentSlots
from adapters.mongo.leases import MongoLeaseStore
from adapters.mongo.payments import MongoPaymentStore
from adapters.mongo.rate_limits import MongoRateLimiter
from adapters.mongo.update_log import MongoUpdateLog
from adapters.mongo.uploads import MongoUploadStore
from core.api_keys import ApiKeyStore
from core.api_requests import ApiRequestStore
from core.payments import PaymentStore
from core.ports import (
    AccountStore,
    CatalogStore,
    DeploymentSlots,
    KeyValueStore,
    LeaseStore,
    RateLimiter,
    RunFinder,
    RunStore,
    UpdateLog,
    UserStore,
)
from core.uploads import UploadStore
from tests.contract.backend_rigs import RIGS, Rig

# Factories take the pytest request so an implementation pulls in only the fixtures it needs.
Factory = Callable[[pytest.FixtureRequest], Any]

RUN_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoRunStore(request.getfixturevalue("mongo_db")),
}
RUN_FINDERS: dict[str, Factory] = {
    "mongo": lambda request: MongoRunFinder(request.getfixturevalue("mongo_db")),
}
"""Each finds what the run store of the same name stored (the same database)."""
CATALOG_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoCatalogStore(request.getfixturevalue("mongo_db")),
}
KV_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoKeyValueStore(request.getfixturevalue("mongo_db")),
}
USER_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoUserStore(request.getfixturevalue("mongo_db")),
}
PAYMENT_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoPaymentStore(request.getfixturevalue("mongo_db")),
}

ACCOUNT_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoAccountStore(request.getfixturevalue("mongo_db")),
}
DEPLOYMENT_SLOTS: dict[str, Factory] = {
    "mongo": lambda request: MongoDeploymentSlots(request.getfixturevalue("mongo_db")),
}
RATE_LIMITERS: dict[str, Factory] = {
    "mongo": lambda request: MongoRateLimiter(request.getfixturevalue("mongo_db")),
}
LEASE_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoLeaseStore(request.getfixturevalue("mongo_db")),
}
UPDATE_LOGS: dict[str, Factory] = {
    "mongo": lambda request: MongoUpdateLog(request.getfixturevalue("mongo_db")),
}

API_KEY_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoApiKeyStore(request.getfixturevalue("mongo_db")),
}
API_REQUEST_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoApiRequestStore(request.getfixturevalue("mongo_db")),
}
UPLOAD_STORES: dict[str, Factory] = {
    "mongo": lambda request: MongoUploadStore(request.getfixturevalue("mongo_db")),
}


@pytest.fixture(params=sorted(API_KEY_STORES))
def api_key_store(request: pytest.FixtureRequest) -> ApiKeyStore:
    store: ApiKeyStore = API_KEY_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(API_REQUEST_STORES))
def api_request_store(request: pytest.FixtureRequest) -> ApiRequestStore:
    store: ApiRequestStore = API_REQUEST_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(UPLOAD_STORES))
def upload_store(request: pytest.FixtureRequest) -> UploadStore:
    store: UploadStore = UPLOAD_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(ACCOUNT_STORES))
def account_store(request: pytest.FixtureRequest) -> AccountStore:
    store: AccountStore = ACCOUNT_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(DEPLOYMENT_SLOTS))
def deployment_slots(request: pytest.FixtureRequest) -> DeploymentSlots:
    slots: DeploymentSlots = DEPLOYMENT_SLOTS[request.param](request)
    return slots


@pytest.fixture(params=sorted(RATE_LIMITERS))
def rate_limiter(request: pytest.FixtureRequest) -> RateLimiter:
    limiter: RateLimiter = RATE_LIMITERS[request.param](request)
    return limiter


@pytest.fixture(params=sorted(LEASE_STORES))
def lease_store(request: pytest.FixtureRequest) -> LeaseStore:
    store: LeaseStore = LEASE_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(UPDATE_LOGS))
def update_log(request: pytest.FixtureRequest) -> UpdateLog:
    log: UpdateLog = UPDATE_LOGS[request.param](request)
    return log


@pytest.fixture(params=sorted(RUN_STORES))
def run_store(request: pytest.FixtureRequest) -> RunStore:
    store: RunStore = RUN_STORES[request.param](request)
    return store


@pytest.fixture
def run_finder(request: pytest.FixtureRequest, run_store: RunStore) -> RunFinder:
    name = request.node.callspec.params["run_store"]
    finder: RunFinder = RUN_FINDERS[name](request)
    return finder


@pytest.fixture(params=sorted(CATALOG_STORES))
def catalog_store(request: pytest.FixtureRequest) -> CatalogStore:
    store: CatalogStore = CATALOG_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(KV_STORES))
def kv_store(request: pytest.FixtureRequest) -> KeyValueStore:
    store: KeyValueStore = KV_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(USER_STORES))
def user_store(request: pytest.FixtureRequest) -> UserStore:
    store: UserStore = USER_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(PAYMENT_STORES))
def payment_store(request: pytest.FixtureRequest) -> PaymentStore:
    store: PaymentStore = PAYMENT_STORES[request.param](request)
    return store


@pytest.fixture(params=sorted(RIGS))
async def backend_rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    """Each backend implementation on the server it talks to (see backend_rigs.py)."""
    async with RIGS[request.param](tmp_path) as rig:
        yield rig
