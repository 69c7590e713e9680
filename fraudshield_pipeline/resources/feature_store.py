"""Feast behind a narrow interface: apply the repository, write and read the online store, and
retrieve historical features."""

import contextlib
import threading
from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr


REDIS_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 2}
# How long a writer waits for another writer of the same card before giving up (seconds).
STATE_LOCK_WAIT_S = 5.0
# A Redis lock expires on its own after this long, so a crashed writer cannot block a card forever.
STATE_LOCK_TTL_S = 5.0
# How often a writer waiting on a card's Redis lock retries (redis-py's default, 0.1 s, would add
# up to 100 ms to the waiting request).
STATE_LOCK_POLL_S = 0.002


class FeastFeatureStore(dg.ConfigurableResource):
    """A Feast repository whose registry lives under `repo_dir`; online store sqlite or Redis."""

    repo_dir: str = Field(description="Directory for the Feast registry (and the sqlite online store).")
    online_store: Literal["sqlite", "redis"] = "sqlite"
    redis_connection_string: str | None = Field(default=None, description="host:port[,password=...] for Redis.")
    tables_uri: str = Field(description="URI under which the storage resource writes tables (local dir or s3://).")
    s3_endpoint_override: str | None = None
    registry_path: str | None = Field(default=None, description="Feast registry file, e.g. s3://bucket/feast/registry.pb (default: under repo_dir).")
    _store: object = PrivateAttr(default=None)
    _views: dict = PrivateAttr(default_factory=dict)
    # sqlite state lock: this process's threads queue on a mutex; only processes meet in sqlite.
    _thread_lock: object = PrivateAttr(default_factory=threading.Lock)
    _lock_conn: object = PrivateAttr(default=None)

    def _config(self):
        from feast import RepoConfig

        repo = Path(self.repo_dir)
        repo.mkdir(parents=True, exist_ok=True)
        return RepoConfig(**self.repo_settings(), repo_path=repo)

    def repo_settings(self, redis_placeholder: str | None = None) -> dict:
        """The repository's settings, as `RepoConfig` takes them and `feature_store.yaml` spells them.

        `redis_placeholder` replaces the Redis connection string (which may hold a password) by an
        environment reference such as `${FRAUDSHIELD_REDIS_URL}`, which Feast expands on reading.
        """
        from fraudshield_pipeline.feature_repo import PROJECT

        repo = Path(self.repo_dir)
        if self.online_store == "redis":
            if not self.redis_connection_string:
                raise ValueError("online_store=redis needs redis_connection_string (FRAUDSHIELD_REDIS_URL)")
            # A scoring request must not wait out redis-py's default backoff (seconds) on a dead
            # store: bounded socket timeouts here, one quick retry in `store()`.
            connection = redis_placeholder or self.redis_connection_string
            extra = [f"{k}={v}" for k, v in REDIS_TIMEOUTS.items() if f"{k}=" not in self.redis_connection_string]
            # skip_dedup: Feast otherwise drops a write whose event time is not newer than the stored
            # row's. A state row is a whole merged state written under `state_lock`, so the last write
            # is always the right one, even when it records an event that arrived out of order.
            online = {"type": "redis", "connection_string": ",".join([connection, *extra]), "skip_dedup": True}
        else:
            online = {"type": "sqlite", "path": str((repo / "online_store.db").resolve())}
        return {
            "project": PROJECT,
            "provider": "local",
            "registry": self.registry_path or str((repo / "registry.db").resolve()),
            "online_store": online,
            "offline_store": {"type": "duckdb"},
            "entity_key_serialization_version": 3,
        }

    def write_repo_yaml(self) -> str:
        """`feature_store.yaml` in `repo_dir`, where Feast's own tools look for it
        (`feast -c <repo_dir> feature-views list`, `feast -c <repo_dir> ui`); no secret in it."""
        from fraudshield_pipeline.feature_repo import feature_store_yaml

        path = Path(self.repo_dir)
        path.mkdir(parents=True, exist_ok=True)
        target = path / "feature_store.yaml"
        tmp = target.with_suffix(".yaml.tmp")
        tmp.write_text(feature_store_yaml(self.repo_settings(redis_placeholder="${FRAUDSHIELD_REDIS_URL}")))
        tmp.replace(target)
        return str(target)

    def store(self):
        """One FeatureStore per resource instance: building one costs about a second."""
        if self._store is None:
            from feast import FeatureStore

            self._store = FeatureStore(config=self._config())
            if self.online_store == "redis":
                from redis.backoff import ConstantBackoff
                from redis.retry import Retry

                online = self._store._get_provider().online_store
                online._get_client(self._store.config.online_store).set_retry(Retry(ConstantBackoff(0.05), 1))
            else:
                # WAL: readers (scoring) never wait on a writer (recording), and a commit appends to
                # the log without an fsync (synchronous=NORMAL): ~25 ms less per recorded event. The
                # store is rebuilt daily from the tables; a power cut loses only the last commits.
                conn = self._store._get_provider().online_store._get_conn(self._store.config)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
        return self._store

    def checkpoint_in_background(self, interval_s: float = 1.0) -> threading.Thread | None:
        """For a long-running writer (the scoring service): sqlite's WAL checkpoints on a thread.

        By default the connection that commits the 1000th WAL page copies the log into the
        database itself, inside that commit: ~7 ms every ~160 recorded transactions, which set the
        service's p99. Here this process's connection never checkpoints, and a daemon thread runs
        a PASSIVE checkpoint (it blocks neither readers nor the writer) every `interval_s` on its
        own connection. Redis: nothing to do (returns None).
        """
        if self.online_store != "sqlite":
            return None
        import sqlite3
        import time

        store = self.store()
        path = store.config.online_store.path
        store._get_provider().online_store._get_conn(store.config).execute("PRAGMA wal_autocheckpoint=0")

        def checkpoint() -> None:
            conn = sqlite3.connect(path, timeout=STATE_LOCK_WAIT_S, isolation_level=None)
            while True:
                time.sleep(interval_s)
                with contextlib.suppress(sqlite3.Error):  # busy or gone: the next period tries again
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

        thread = threading.Thread(target=checkpoint, name="fraudshield-wal-checkpoint", daemon=True)
        thread.start()
        return thread

    def apply(self) -> list[str]:
        """`feast apply` for the package's repository; idempotent."""
        from fraudshield_pipeline.feature_repo import repo_objects

        objects = repo_objects(self.tables_uri, self.s3_endpoint_override)
        self.store().apply(objects)
        self.write_repo_yaml()
        return [o.name for o in objects]

    def write_online(self, view: str, rows: pd.DataFrame) -> int:
        """Write rows (one per entity, newest state) straight to the online store."""
        self.store().write_to_online_store(view, rows)
        return len(rows)

    def write_entity(self, view: str, entity_id: str, values: dict, at) -> None:
        """One entity's row straight through Feast's provider (`online_write_batch`), as `write_online`
        does for a frame, minus the DataFrame-to-Arrow-to-proto round trip that costs ~100 ms a row."""
        from feast.protos.feast.types.Value_pb2 import Value
        from feast.type_map import python_values_to_proto_values

        store = self.store()
        feature_view = self._view(view)
        types = {field.name: field.dtype.to_value_type() for field in feature_view.features}
        protos = {name: _value_proto(Value, value, types[name], python_values_to_proto_values) for name, value in values.items()}
        key = _entity_key(feature_view, entity_id)
        store._get_provider().online_write_batch(store.config, feature_view, [(key, protos, at, None)], progress=None)

    def write_state(self, tables) -> None:
        """Writes `feature_repo.state_tables` to the online store (the status row last)."""
        for view, table in tables.items():
            self.write_online(view, table.to_pandas())

    @contextlib.contextmanager
    def state_lock(self, keys: list[tuple[str, str]]):
        """Mutual exclusion for a read-append-write of these (view, entity id) states.

        Redis: one lock per entity (SET NX with an expiry, released by redis-py's Lua
        compare-and-delete), taken in sorted order so two writers never deadlock. sqlite: an
        `IMMEDIATE` transaction on a lock database beside the online store, which sqlite
        grants to one connection at a time across processes (sqlite has a single writer anyway,
        so a per-entity lock would buy nothing). Threads of one process first queue on a mutex:
        waiting inside sqlite means its busy handler's sleeps (up to 100 ms each), which set the
        service's p99 under concurrent requests. Feast's own writes stay
        Feast's: the lock serializes the serving path's writers, which is what loses events.
        """
        if self.online_store == "redis":
            store = self.store()
            client = store._get_provider().online_store._get_client(store.config.online_store)
            locks = [
                client.lock(
                    f"{self._lock_prefix()}:{view}:{entity}",
                    timeout=STATE_LOCK_TTL_S, blocking_timeout=STATE_LOCK_WAIT_S, sleep=STATE_LOCK_POLL_S,
                )  # fmt: skip
                for view, entity in sorted(set(keys))
            ]
            held = []
            try:
                for lock in locks:
                    if not lock.acquire():
                        raise TimeoutError(f"state of {lock.name} is locked by another writer for over {STATE_LOCK_WAIT_S} s")
                    held.append(lock)
                yield
            finally:
                for lock in reversed(held):
                    with contextlib.suppress(Exception):  # expired meanwhile: nothing left to release
                        lock.release()
        else:
            import sqlite3

            if not self._thread_lock.acquire(timeout=STATE_LOCK_WAIT_S):
                raise TimeoutError(f"the online store's state is locked by another thread for over {STATE_LOCK_WAIT_S} s")
            try:
                if self._lock_conn is None:  # one connection, used under the mutex only
                    path = Path(self.repo_dir) / "online_store.lock.db"
                    self._lock_conn = sqlite3.connect(path, timeout=STATE_LOCK_WAIT_S, isolation_level=None, check_same_thread=False)
                self._lock_conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                finally:
                    self._lock_conn.execute("ROLLBACK")
            finally:
                self._thread_lock.release()

    def _lock_prefix(self) -> str:
        from fraudshield_pipeline.feature_repo import PROJECT

        return f"{PROJECT}:state-lock"

    def online_features(self, entity_rows: list[dict], refs: list[str], full_names: bool = False) -> dict[str, list]:
        """Values per feature; `full_names` keys them `view__feature` (views share field names)."""
        response = self.store().get_online_features(features=refs, entity_rows=entity_rows, full_feature_names=full_names)
        return response.to_dict()

    def online_rows(self, reads: list[tuple[str, str]]) -> list[dict | None]:
        """Each (view, entity id)'s stored row as Python values (None where the entity has none).

        The same online store read `get_online_features` makes (the provider's `online_read`, one
        per view, sqlite or Redis alike), without its per-call entity preparation, response protos
        and `to_dict`: about 1.5 ms of Python per request around 0.15 ms of actual reads. Like
        `get_online_features` on these views, it returns what is stored; freshness is the caller's
        check (the status row's `labels_as_of_us`).
        """
        from feast.type_map import feast_value_type_to_python_type

        store = self.store()
        provider = store._get_provider()
        out: list[dict | None] = []
        for view, entity_id in reads:
            feature_view = self._view(view)
            key = _entity_key(feature_view, entity_id)
            names = [field.name for field in feature_view.features]
            # A copy: Feast's Redis store appends its timestamp field to the list it is given.
            (_, row), = provider.online_read(config=store.config, table=feature_view, entity_keys=[key], requested_features=list(names))
            values = None if row is None else {name: feast_value_type_to_python_type(row[name]) if name in row else None for name in names}
            # sqlite answers None for an entity without a row, Redis a row of empty values: both are None here.
            out.append(values if values and any(v is not None for v in values.values()) else None)
        return out

    def _view(self, view: str):
        """The registered feature view, looked up once per resource (the registry read is slow)."""
        feature_view = self._views.get(view)
        if feature_view is None:
            feature_view = self._views[view] = self.store().get_feature_view(view)
        return feature_view

    def historical_features(self, entity_rows: pd.DataFrame, refs: list[str]) -> pd.DataFrame:
        """Feast's own point-in-time retrieval (the reference the DuckDB training set is tested against)."""
        return self.store().get_historical_features(entity_df=entity_rows, features=refs).to_df()


def _entity_key(feature_view, entity_id: str):
    """The online store's key of one entity of a single-key view: what Feast writes and reads under."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return EntityKey(join_keys=[feature_view.entity_columns[0].name], entity_values=[Value(string_val=str(entity_id))])


def _value_proto(value_cls, value, value_type, generic):
    """A state field's `ValueProto`, set directly for the state views' types (int64/double/string
    lists and int64): Feast's generic conversion type-checks every list element in Python (~0.5 ms
    a record). The proto is the one the generic path builds; other types still go through it."""
    from feast.value_type import ValueType

    field = _DIRECT_FIELDS.get(value_type.name)
    if field is None or value is None:
        return generic([value], value_type)[0]
    if value_type == ValueType.INT64:
        return value_cls(int64_val=int(value))
    proto = value_cls()
    getattr(proto, field).val.extend(value)
    return proto


_DIRECT_FIELDS = {"INT64": "int64_val", "INT64_LIST": "int64_list_val", "DOUBLE_LIST": "double_list_val", "STRING_LIST": "string_list_val"}
