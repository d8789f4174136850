"""The throwaway PostgreSQL cluster the tests (and benchmarks) start themselves."""

from __future__ import annotations

import os
import stat

import pytest
from fabric_chat_server.postgres_cluster import ClusterError, TemporaryCluster


def test_a_cluster_starts_keeps_its_data_across_a_restart_and_leaves_nothing_behind() -> None:
    with TemporaryCluster(settings={"fsync": "off"}) as cluster:
        data = cluster.data_dir
        mode = stat.S_IMODE(os.stat(data).st_mode)
        assert mode == 0o700
        if os.geteuid() == 0:  # initdb refuses root: the directory belongs to postgres
            assert data.owner() == "postgres"
        assert cluster.dsn == f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        assert cluster.sql("SHOW listen_addresses").strip() == "127.0.0.1"
        assert cluster.sql("SHOW fsync").strip() == "off"
        cluster.create_database("kept")
        cluster.sql("CREATE TABLE t (n int); INSERT INTO t VALUES (7)", database="kept")
        port = cluster.port
        cluster.restart()
        assert cluster.port == port
        assert cluster.sql("SELECT n FROM t", database="kept").strip() == "7"
        cluster.stop()
        assert not cluster.running
        with pytest.raises(ClusterError, match="psql"):
            cluster.sql("SELECT 1")
        cluster.start()
        assert cluster.sql("SELECT 1").strip() == "1"
    assert not data.exists()


def test_database_names_are_checked_before_reaching_sql(postgres_cluster: TemporaryCluster) -> None:
    with pytest.raises(ValueError, match="plain database name"):
        postgres_cluster.create_database("x; DROP DATABASE postgres")
    with pytest.raises(ValueError, match="plain database name"):
        postgres_cluster.create_database("ok", template="bad name")


def test_each_test_gets_a_fresh_empty_database(
    postgres_dsn: str, postgres_cluster: TemporaryCluster
) -> None:
    name = postgres_dsn.rsplit("/", 1)[1]
    tables = postgres_cluster.sql(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database=name
    )
    assert tables.strip() == "0"
