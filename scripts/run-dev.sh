#!/usr/bin/env bash
# Start the background task worker, the scheduler and the web server together; Ctrl-C stops
# all three.
set -uo pipefail
PY="${1:-.venv/bin/python}"
ADDR="${STEG_ADDR:-127.0.0.1:8000}"

"$PY" manage.py db_worker --interval 1 --no-reload &
WORKER=$!
# The scheduler: automation rules that have fallen due every minute (events such as an
# activation fire at once through the worker); meeting reminders, due notifications and the
# dashboard's time-based flags every 5 minutes.
"$PY" manage.py run_scheduler --interval 60 --housekeeping 300 >/dev/null &
SCHEDULER=$!
"$PY" manage.py runserver "$ADDR" --noreload &
SERVER=$!

cleanup() {
  trap - INT TERM EXIT
  kill "$WORKER" "$SERVER" "$SCHEDULER" 2>/dev/null
  wait "$WORKER" "$SERVER" "$SCHEDULER" 2>/dev/null
  echo "Steg stopped."
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

echo
echo "Steg is starting at http://$ADDR (Ctrl-C stops the server, the worker and the scheduler)"
echo
# When one of them ends, stop the others.
wait -n "$WORKER" "$SERVER" "$SCHEDULER"
