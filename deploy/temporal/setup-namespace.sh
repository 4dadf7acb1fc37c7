#!/bin/sh
# One-shot job (temporalio/admin-tools): create the namespace and the custom search attributes
# the lifecycle workflow sets (names and types: workflows/search.py; tests/test_compose.py checks
# that this list matches). Idempotent.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}"
RETENTION="${NAMESPACE_RETENTION:-30d}"

echo "waiting for the Temporal frontend at $TEMPORAL_ADDRESS"
i=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -ge 60 ] && { echo "Temporal unhealthy" >&2; exit 1; }
  sleep 3
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" \
    --retention "$RETENTION" \
    --description "Synergies Tracker: lifecycle of BRS/Minamata joint activities"
  # The namespace registry is cached by the frontend for a few seconds.
  sleep 10
fi

existing=$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE")
create_attribute() {
  if printf '%s\n' "$existing" | grep -qw "$1"; then
    echo "search attribute $1 exists"
  else
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" \
      --name "$1" --type "$2"
  fi
}
# BEGIN search attributes (keep in step with workflows/search.py)
create_attribute Stage Keyword
create_attribute Conventions KeywordList
create_attribute ThematicGroup Keyword
create_attribute StageDueOn Datetime
# END search attributes

echo "namespace $NAMESPACE ready"
