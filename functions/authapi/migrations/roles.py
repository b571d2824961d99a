"""The database roles the service runs as: `<prefix>_app` reads and writes rows, nothing else;
`<prefix>_maintenance` (the scheduled maintenance run) has the app's rights and may also delete
audit rows, by retention; `<prefix>_migrator` owns the schema. Roles belong to the whole server,
hence the prefix.

`roles_sql` is idempotent and needs a role that may create roles the first time (the cluster's
master user, through infra/bootstrap-database.sh in AWS; the migration itself in tests and
locally). Every statement is guarded, so the migrator re-running it later changes nothing and
needs no right it does not have. The grants (re-run after every upgrade) run it first: a
role added later (the maintenance role) is created where the migrating role may create roles
(locally, in tests), and in AWS, where it may not, the upgrade fails, before any traffic moves,
until infra/bootstrap-database.sh has been run again.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# every table but Alembic's bookkeeping: the app reads and writes rows and never sees versions
_APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_APPEND_ONLY_TABLE = "audit_events"
_ROLE_KINDS = ("app", "maintenance", "migrator")


def app_role(prefix: str) -> str:
    return f"{_checked(prefix)}_app"


def maintenance_role(prefix: str) -> str:
    return f"{_checked(prefix)}_maintenance"


def migrator_role(prefix: str) -> str:
    return f"{_checked(prefix)}_migrator"


def _checked(prefix: str) -> str:
    # the prefix is spliced into SQL: settings validate it, and so does this, once more
    if not _PREFIX.match(prefix):
        raise ValueError(f"not a role prefix: {prefix!r}")
    return prefix


def roles_sql(prefix: str) -> str:
    """Create the roles and their database and schema rights, unless they are there already."""
    app, maintenance, migrator = app_role(prefix), maintenance_role(prefix), migrator_role(prefix)
    return f"""
DO $roles$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['{migrator}', '{app}', '{maintenance}'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE 'CREATE ROLE ' || quote_ident(role_name) || ' LOGIN';
            EXCEPTION
                WHEN duplicate_object THEN
                    NULL;  -- created by a concurrent run: what we wanted
                WHEN insufficient_privilege THEN
                    -- the migrator, in AWS: only the master user creates roles
                    RAISE EXCEPTION USING
                        MESSAGE = 'database role ' || role_name || ' is missing, and '
                            || current_user || ' may not create it',
                        HINT = 'run infra/bootstrap-database.sh for this environment first';
            END;
        END IF;
        -- RDS: IAM authentication (RDS Proxy end to end) needs the role to be in rds_iam
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam')
           AND NOT pg_has_role(role_name, 'rds_iam', 'MEMBER') THEN
            EXECUTE 'GRANT rds_iam TO ' || quote_ident(role_name);
        END IF;
        IF NOT has_database_privilege(role_name, current_database(), 'CONNECT') THEN
            EXECUTE 'GRANT CONNECT ON DATABASE ' || quote_ident(current_database()) || ' TO '
                || quote_ident(role_name);
        END IF;
        IF NOT has_schema_privilege(role_name, 'public', 'USAGE') THEN
            EXECUTE 'GRANT USAGE ON SCHEMA public TO ' || quote_ident(role_name);
        END IF;
    END LOOP;
    IF NOT has_schema_privilege('{migrator}', 'public', 'CREATE') THEN
        GRANT CREATE ON SCHEMA public TO {migrator};
    END IF;
    -- PostgreSQL before 15 lets every role create tables in public: not the app
    IF has_schema_privilege('public', 'public', 'CREATE') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END
$roles$;
"""  # noqa: S608 - the role names are checked against _PREFIX


def bootstrap_statements(prefix: str) -> tuple[str, ...]:
    """What infra/bootstrap-database.sh runs as the master user, one statement at a time (the
    Data API takes one per call): the roles, then the app's and the maintenance role's timeouts
    (only a role that may alter other roles can set them)."""
    return (
        roles_sql(prefix),
        timeouts_sql(app_role(prefix)),
        timeouts_sql(maintenance_role(prefix)),
    )


# Server-side limits, set on the roles (not per connection: a SET on connect pins RDS Proxy)
ROLE_TIMEOUTS = {
    "statement_timeout": "5s",
    "lock_timeout": "2s",
    "idle_in_transaction_session_timeout": "10s",
}


_IF_SUPERUSER = "IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN"


def timeouts_sql(role: str | None = None, *, only_as_superuser: bool = False) -> str:
    """Database-scoped defaults for `role` (None: the connecting role), so a runaway statement, a
    lock queue or an abandoned transaction ends on its own; other databases keep theirs.

    `only_as_superuser`: do nothing unless the connecting role is a superuser (the only kind that
    may alter another role everywhere we run; in AWS the master user does it at bootstrap).
    """
    who = "'CURRENT_USER'" if role is None else f"quote_ident('{_checked_role(role)}')"
    # no format(): without a percent sign the SQL passes through any driver unescaped (the
    # grants run it through psycopg's exec_driver_sql, bootstrap through the Data API)
    body = "\n".join(
        f"    EXECUTE 'ALTER ROLE ' || {who} || ' IN DATABASE ' || quote_ident(current_database())"
        f" || ' SET {name} = ' || quote_literal('{value}');"
        for name, value in ROLE_TIMEOUTS.items()
    )
    if only_as_superuser:
        body = "\n".join((_IF_SUPERUSER, body, "END IF;"))
    return f"DO $timeouts$\nBEGIN\n{body}\nEND\n$timeouts$;"


def _checked_role(role: str) -> str:
    prefix, _, suffix = role.rpartition("_")
    if suffix not in _ROLE_KINDS:
        raise ValueError(f"not one of our roles: {role!r}")
    return f"{_checked(prefix)}_{suffix}"


def app_grants_sql(prefix: str) -> tuple[str, ...]:
    """The app's and the maintenance role's rights on every table the migrations made; re-run
    after every upgrade (the roles first: see the module's docstring)."""
    app, maintenance = app_role(prefix), maintenance_role(prefix)
    return (
        roles_sql(prefix),
        # the maintenance role's timeouts, where the migrating role may set them (in AWS the
        # master user did, at bootstrap); the app's were set by migration 0004
        timeouts_sql(maintenance, only_as_superuser=True),
        f"GRANT {_APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {app}, {maintenance}",
        f"REVOKE ALL ON alembic_version FROM {app}, {maintenance}",
        # the audit trail is append-only for the app (migration 0012): it may record and read,
        # never rewrite or erase; the maintenance run may delete (retention), never rewrite; a
        # schema older than the table has nothing to revoke
        f"""DO $audit$
BEGIN
    IF to_regclass('public.{_APPEND_ONLY_TABLE}') IS NOT NULL THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON {_APPEND_ONLY_TABLE} FROM {app};
        REVOKE UPDATE, TRUNCATE ON {_APPEND_ONLY_TABLE} FROM {maintenance};
    END IF;
END
$audit$""",
    )
