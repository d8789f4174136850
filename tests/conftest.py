"""Shared pytest configuration; each area keeps its fixtures in its own folder's conftest.py.

PostgreSQL: ``postgres_cluster`` is one throwaway cluster per test session (started on first
use, from the installed binaries; never skipped), ``postgres_dsn`` a fresh empty database of it
for one test.

Both stores: a test (or fixture) that asks for ``store_options`` runs twice, ``[sqlite]`` and
``[postgres]``, and gets the keyword arguments of ``LocalServer`` for that store (``{}`` or
``{"database_url": DSN}``); a test marked ``sqlite_only`` runs on SQLite alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from fabric_chat_server.postgres_cluster import TemporaryCluster

# Tests need no durability: a cluster that skips fsync creates databases and commits faster.
TEST_CLUSTER_SETTINGS = {"fsync": "off", "full_page_writes": "off", "max_connections": "300"}

_databases = itertools.count(1)

STORES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        kinds = ["sqlite"] if only_sqlite else list(STORES)
        metafunc.parametrize("store_kind", kinds, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: the store this run of the test uses."""
    return str(request.param)


@pytest.fixture
def store_options(store_kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """``LocalServer`` keyword arguments selecting the store of ``store_kind``."""
    if store_kind == "postgres":
        return {"database_url": request.getfixturevalue("postgres_dsn")}
    return {}


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[TemporaryCluster]:
    """One PostgreSQL cluster for the whole test session (127.0.0.1, a free port)."""
    with TemporaryCluster(settings=TEST_CLUSTER_SETTINGS) as cluster:
        yield cluster


@pytest.fixture
def postgres_dsn(postgres_cluster: TemporaryCluster) -> Iterator[str]:
    """The DSN of a fresh, empty database for one test; dropped after it."""
    name = f"t{next(_databases)}"
    dsn = postgres_cluster.create_database(name)
    yield dsn
    if postgres_cluster.running:
        postgres_cluster.drop_database(name)
