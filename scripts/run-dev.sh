#!/usr/bin/env bash
# Start the background task worker and the web server together; Ctrl-C stops both.
set -euo pipefail
PY="${1:-.venv/bin/python}"
"$PY" manage.py db_worker --interval 1 &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null || true; wait "$WORKER" 2>/dev/null || true' EXIT INT TERM
echo
echo "Steg is starting at http://127.0.0.1:8000 (Ctrl-C stops the server and the worker)"
echo
"$PY" manage.py runserver 127.0.0.1:8000
