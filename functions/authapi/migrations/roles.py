"""The database roles the service runs as: `<prefix>_app` reads and writes rows, nothing else;
`<prefix>_migrator` owns the schema. Roles belong to the whole server, hence the prefix.

`roles_sql` is idempotent and needs a role that may create roles the first time (the cluster's
master user, through infra/bootstrap-database.sh in AWS; the migration itself in tests and
locally). Every statement is guarded, so the migrator re-running it later changes nothing and
needs no right it does not have.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# every table but Alembic's bookkeeping: the app reads and writes rows and never sees versions
_APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_APPEND_ONLY_TABLE = "audit_events"


def app_role(prefix: str) -> str:
    return f"{_checked(prefix)}_app"


def migrator_role(prefix: str) -> str:
    return f"{_checked(prefix)}_migrator"


def _checked(prefix: str) -> str:
    # the prefix is spliced into SQL: settings validate it, and so does this, once more
    if not _PREFIX.match(prefix):
        raise ValueError(f"not a role prefix: {prefix!r}")
    return prefix


def roles_sql(prefix: str) -> str:
    """Create both roles and their database and schema rights, unless they are there already."""
    app, migrator = app_role(prefix), migrator_role(prefix)
    return f"""
DO $roles$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['{migrator}', '{app}'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', role_name);
            EXCEPTION WHEN duplicate_object THEN
                NULL;  -- created by a concurrent run: what we wanted
            END;
        END IF;
        -- RDS: IAM authentication (RDS Proxy end to end) needs the role to be in rds_iam
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam')
           AND NOT pg_has_role(role_name, 'rds_iam', 'MEMBER') THEN
            EXECUTE format('GRANT rds_iam TO %I', role_name);
        END IF;
        IF NOT has_database_privilege(role_name, current_database(), 'CONNECT') THEN
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), role_name);
        END IF;
        IF NOT has_schema_privilege(role_name, 'public', 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', role_name);
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
    Data API takes one per call): the roles, then the app role's timeouts (only a role that may
    alter other roles can set them)."""
    return roles_sql(prefix), timeouts_sql(app_role(prefix))


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
    body = "\n".join(
        f"    EXECUTE format('ALTER ROLE %s IN DATABASE %I SET {name} = %L', {who}, "
        f"current_database(), '{value}');"
        for name, value in ROLE_TIMEOUTS.items()
    )
    if only_as_superuser:
        body = "\n".join((_IF_SUPERUSER, body, "END IF;"))
    return f"DO $timeouts$\nBEGIN\n{body}\nEND\n$timeouts$;"


def _checked_role(role: str) -> str:
    prefix, _, suffix = role.rpartition("_")
    if suffix not in ("app", "migrator"):
        raise ValueError(f"not one of our roles: {role!r}")
    return f"{_checked(prefix)}_{suffix}"


def app_grants_sql(prefix: str) -> tuple[str, ...]:
    """The app's rights on every table the migrations made; re-run after every upgrade."""
    app = app_role(prefix)
    return (
        f"GRANT {_APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {app}",
        f"REVOKE ALL ON alembic_version FROM {app}",
        # the audit trail is append-only for the app (migration 0012): it may record and read,
        # never rewrite or erase; a schema older than the table has nothing to revoke
        f"""DO $audit$
BEGIN
    IF to_regclass('public.{_APPEND_ONLY_TABLE}') IS NOT NULL THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON {_APPEND_ONLY_TABLE} FROM {app};
    END IF;
END
$audit$""",
    )
