#!/bin/sh
# Runs once, when the postgres volume is initialised (/docker-entrypoint-initdb.d).
# Creates the application role + database and the role Temporal's schema job uses; the
# `temporal` and `temporal_visibility` databases are created by that job (temporal-sql-tool create).
# Passwords come from the environment (.env); nothing secret is stored in this file.
set -eu

: "${SYNERGIES_DB_USER:?}" "${SYNERGIES_DB_PASSWORD:?}" "${SYNERGIES_DB_NAME:?}"
: "${TEMPORAL_DB_USER:?}" "${TEMPORAL_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v app_user="$SYNERGIES_DB_USER" -v app_password="$SYNERGIES_DB_PASSWORD" \
  -v app_db="$SYNERGIES_DB_NAME" \
  -v temporal_user="$TEMPORAL_DB_USER" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
-- Temporal's schema tool creates its two databases itself, hence CREATEDB.
CREATE ROLE :"temporal_user" LOGIN CREATEDB PASSWORD :'temporal_password';
SQL
echo "init-databases: created role/database $SYNERGIES_DB_NAME and role $TEMPORAL_DB_USER"
