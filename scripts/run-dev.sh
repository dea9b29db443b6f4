#!/usr/bin/env bash
# Start the background task worker and the web server together; Ctrl-C stops both.
set -uo pipefail
PY="${1:-.venv/bin/python}"
ADDR="${STEG_ADDR:-127.0.0.1:8000}"

"$PY" manage.py db_worker --interval 1 --no-reload &
WORKER=$!
# Until the automation scheduler exists: meeting reminders, due notifications and the
# dashboard's time-based flags every 5 min.
( while sleep 300; do
    "$PY" manage.py send_meeting_reminders >/dev/null
    "$PY" manage.py refresh_attention >/dev/null
    "$PY" manage.py send_notifications >/dev/null
  done ) &
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
echo "Steg is starting at http://$ADDR (Ctrl-C stops the server and the worker)"
echo
# When either process ends, stop the other.
wait -n "$WORKER" "$SERVER"
