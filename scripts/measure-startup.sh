#!/usr/bin/env bash
# Start-up of `make run` on a fresh clone (issue #9, docs/performance.md "Start-up of make run").
#
#   bash scripts/measure-startup.sh [REPOSITORY]      # default: this repository (its HEAD)
#
# Clones the repository into a temporary folder, starts `make run` there (its own process group,
# on a free port through STEG_ADDR) and polls until `curl` gets a 200 from /account/login/. The
# time is split by what `make run` is doing: uv itself (a private virtualenv with pip when uv is
# not on PATH), the project's virtualenv (uv sync --locked, packages from the local uv cache:
# "after packages are downloaded"), migrate, load_demo, and the servers coming up. It also
# prints the footprint once serving: the virtualenv's size and the memory of the processes.
# Then it stops `make run` (the whole process group) and removes the clone.
set -euo pipefail

REPO="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
PORT="${STEG_MEASURE_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
LIMIT="${STEG_MEASURE_LIMIT:-300}"  # give up after this many seconds
DIR="$(mktemp -d)"
PGID=""

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$PGID" ] && kill -0 -- "-$PGID" 2>/dev/null; then
    kill -TERM -- "-$PGID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$PGID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

git clone -q "$REPO" "$DIR/steg"
cd "$DIR/steg"
LOG="$DIR/make-run.log"
echo "[startup] fresh clone of $REPO (HEAD $(git rev-parse --short HEAD)) in $DIR/steg; port $PORT"

T0=$(now)
# No job control here, so `make` is not a group leader and setsid makes it the leader of a new
# process group (and session) without forking: its pid is the group to stop at the end.
STEG_ADDR="127.0.0.1:$PORT" setsid make run >"$LOG" 2>&1 </dev/null &
PGID=$!

T_UV="" T_ENV="" T_MIGRATE="" T_DEMO="" T_200=""
if command -v uv >/dev/null 2>&1; then T_UV=$T0; fi
while :; do
  t=$(now)
  [ -z "$T_UV" ] && [ -x .venv-uv/bin/uv ] && T_UV=$t
  [ -z "$T_ENV" ] && [ -e .venv/.steg-synced ] && T_ENV=$t
  [ -z "$T_MIGRATE" ] && grep -q "manage.py load_demo" "$LOG" && T_MIGRATE=$t
  [ -z "$T_DEMO" ] && grep -q "Steg is starting" "$LOG" && T_DEMO=$t
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/account/login/" || true)
  if [ "$code" = 200 ]; then T_200=$(now); break; fi
  if ! kill -0 "$PGID" 2>/dev/null; then
    echo "[startup] make run stopped before serving:" >&2; tail -30 "$LOG" >&2; exit 1
  fi
  if [ "$(since "$T0" "$t" | cut -d. -f1)" -ge "$LIMIT" ]; then
    echo "[startup] no login page within $LIMIT s:" >&2; tail -30 "$LOG" >&2; exit 1
  fi
  sleep 0.1
done

# Footprint while serving: the processes of `make run` (server, worker, scheduler) and the venv.
RSS_KB=$(ps -o rss= -g "$PGID" | awk '{ s += $1 } END { print s + 0 }')
PROCS=$(ps -o pid= -g "$PGID" | wc -l)
VENV_MB=$(du -sm .venv | cut -f1)

T_UV=${T_UV:-$T0} T_ENV=${T_ENV:-$T_UV} T_MIGRATE=${T_MIGRATE:-$T_ENV} T_DEMO=${T_DEMO:-$T_MIGRATE}
echo "[startup] uv itself (.venv-uv, pip install uv):       $(since "$T0" "$T_UV") s"
echo "[startup] virtualenv (uv sync --locked, from cache): $(since "$T_UV" "$T_ENV") s"
echo "[startup] migrate (fresh SQLite):                     $(since "$T_ENV" "$T_MIGRATE") s"
echo "[startup] load_demo:                                  $(since "$T_MIGRATE" "$T_DEMO") s"
echo "[startup] servers up until the login page answers:    $(since "$T_DEMO" "$T_200") s"
echo "[startup] set-up (uv + virtualenv):                   $(since "$T0" "$T_ENV") s"
echo "[startup] migrate + load_demo + serve:                $(since "$T_ENV" "$T_200") s"
echo "[startup] TOTAL from make run to 200 on /account/login/: $(since "$T0" "$T_200") s"
echo "[startup] footprint: .venv $VENV_MB MB; $PROCS processes of make run using $((RSS_KB / 1024)) MB RSS"
