#!/usr/bin/env bash
# The scale-out demonstration (issue #9, docs/deployment.md): Steg with production settings on
# real engines on this machine: two gunicorn processes behind nginx (TLS, load balancing, static
# files), PostgreSQL, Redis, two task workers and two schedulers. It checks that logins and
# sessions hold across the processes, that rate limits are shared, that each automation fires
# once and that static files are cached for ever and compressed; prints PASS/FAIL lines and
# exits 1 on any FAIL. Everything it starts is stopped and removed at the end, also on failure
# and Ctrl-C.
#
#   make scale-out-demo                      # or: bash scripts/scale-out-demo.sh [--firings 300]
#   bash scripts/scale-out-demo.sh --help    # the options (ports, database server, sizes)
#
# nginx is installed with apt-get (Debian's package) only when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }

NGINX="$(find_nginx)"
if [ -z "$NGINX" ]; then
  echo "[scale-out] nginx is missing: installing Debian's package (apt-get install nginx)" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
  NGINX="$(find_nginx)"
  # Where the package's own service was started by the install (no policy-rc.d), stop it: the
  # demonstration runs its own nginx and leaves nothing listening.
  if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    $SUDO "$NGINX" -s stop || true
  fi
fi
[ -n "$NGINX" ] || { echo "[scale-out] nginx could not be installed" >&2; exit 1; }

export STEG_NGINX="$NGINX"
exec "$PY" scripts/scale_out_demo.py "$@"
