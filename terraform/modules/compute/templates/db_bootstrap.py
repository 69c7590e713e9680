# Database bootstrap of the ECS deployment, run by the one-off db-bootstrap task as
# `python -c <this>` (terraform output db_bootstrap_command): after the first apply and after
# rotating a database role's password. Idempotent. The only code that uses the RDS master user.
#
# - Dagster's role (DAGSTER_DB_USERNAME) owns the database DAGSTER_DB_NAME (dagster) and nothing
#   else; MLflow's role (MLFLOW_DB_USERNAME) owns MLFLOW_DB_NAME (mlflow) and MLFLOW_AUTH_DB_NAME
#   (mlflow_auth, the basic-auth app's users and grants) and nothing else. Both are LOGIN roles
#   without SUPERUSER, CREATEDB, CREATEROLE or REPLICATION, and no other role may connect to their
#   databases (CONNECT revoked from PUBLIC). The master user becomes a member of both roles (RDS
#   has no superuser: only a member may hand a database or a table to a role).
# - Passwords come from the task's secrets and are sent as SCRAM-SHA-256 verifiers computed here,
#   so the plaintext never reaches the server or its DDL log (log_statement = ddl).
# - Tables a previous deployment created as the master user in these databases are handed over
#   to the owning role.
# fraudshield_pipeline_tests/test_mlflow_auth.py runs this same script against a loopback PostgreSQL.
import base64
import hashlib
import hmac
import os
import secrets

import psycopg2
from psycopg2 import sql

env = os.environ
connect = dict(host=env["DB_HOST"], port=env["DB_PORT"], sslmode=env.get("DB_SSLMODE", "require"), connect_timeout=10)
master = dict(user=env["DB_MASTER_USERNAME"], password=env["DB_MASTER_PASSWORD"])
roles = {
    env["DAGSTER_DB_USERNAME"]: (env["DAGSTER_DB_PASSWORD"], [env.get("DAGSTER_DB_NAME", "dagster")]),
    env["MLFLOW_DB_USERNAME"]: (env["MLFLOW_DB_PASSWORD"], [env.get("MLFLOW_DB_NAME", "mlflow"), env.get("MLFLOW_AUTH_DB_NAME", "mlflow_auth")]),
}
assert len(roles) == 2 and master["user"] not in roles, "Dagster and MLflow need two roles of their own, not the master user"


def scram_sha_256(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier (what psql's \\password sends)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def run(dbname, statements):
    conn = psycopg2.connect(dbname=dbname, **connect, **master)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements(cur):
                query, parameters = statement if isinstance(statement, tuple) else (statement, None)
                cur.execute(query, parameters)
    finally:
        conn.close()


def cluster_statements(cur):
    for role, (password, databases) in roles.items():
        name = sql.Identifier(role)
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cur.fetchone() is None:
            yield sql.SQL("CREATE ROLE {}").format(name)  # NOSUPERUSER NOREPLICATION by default
        yield (
            sql.SQL("ALTER ROLE {} WITH LOGIN NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %s").format(name),
            (scram_sha_256(password),),
        )
        cur.execute("SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = %s", (role,))
        assert cur.fetchone()[0] is False, f"{role} must not be a superuser, replicate or bypass row security"
        yield sql.SQL("GRANT {} TO CURRENT_USER").format(name)
        for database in databases:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                yield sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), name)
            yield sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), name)
            yield sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))


def hand_over(role):
    """Objects in `public` the master user created (an earlier deployment) go to the role."""

    def statements(cur):
        kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
        # Tables first: they take their serial columns' sequences along; then what is left.
        for relkinds in ("rpvm", "S"):
            cur.execute(
                "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind::text = ANY(%s) AND pg_get_userbyid(c.relowner) = current_user",
                (list(relkinds),),
            )
            for relname, relkind in cur.fetchall():
                yield sql.SQL("ALTER {} public.{} OWNER TO {}").format(sql.SQL(kinds[relkind]), sql.Identifier(relname), sql.Identifier(role))
        cur.execute(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = 'public' AND t.typtype = 'e' AND pg_get_userbyid(t.typowner) = current_user"
        )
        for (typname,) in cur.fetchall():
            yield sql.SQL("ALTER TYPE public.{} OWNER TO {}").format(sql.Identifier(typname), sql.Identifier(role))
        yield sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(role))

    return statements


run(env.get("DB_MASTER_DATABASE", "postgres"), cluster_statements)
for role, (_, databases) in roles.items():
    for database in databases:
        run(database, hand_over(role))
print(f"database roles ready: {', '.join(sorted(roles))}")
