#!/bin/sh
# One-shot job (temporalio/admin-tools): create the `temporal` and `temporal_visibility`
# databases if missing and migrate both schemas to the versions shipped with this image.
# Idempotent: re-running on migrated databases is a no-op, so it runs on every `up` and after
# upgrading the server image (update-schema applies only the new versions).
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
PORT="${DB_PORT:-5432}"
DB="${DBNAME:-temporal}"
VISIBILITY_DB="${VISIBILITY_DBNAME:-temporal_visibility}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$PORT"
i=0
until nc -z -w 5 "$POSTGRES_SEEDS" "$PORT"; do
  i=$((i + 1)); [ "$i" -ge 60 ] && { echo "PostgreSQL unreachable" >&2; exit 1; }
  sleep 2
done

# SQL_PASSWORD is read by temporal-sql-tool from the environment (not put on the command line).
sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"
}

sql --db "$DB" create
sql --db "$DB" setup-schema -v 0.0
sql --db "$DB" update-schema -d "$SCHEMA_DIR/temporal/versioned"

sql --db "$VISIBILITY_DB" create
sql --db "$VISIBILITY_DB" setup-schema -v 0.0
sql --db "$VISIBILITY_DB" update-schema -d "$SCHEMA_DIR/visibility/versioned"

echo "temporal schemas ready: $DB, $VISIBILITY_DB"
