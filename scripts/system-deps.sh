#!/usr/bin/env bash
# Installs the Debian packages turnout needs, only when they are missing.
#   scripts/system-deps.sh demo   what `make demo` needs
#   scripts/system-deps.sh test   what `make test` needs
#   scripts/system-deps.sh bench  what `make bench` needs
set -euo pipefail
profile="${1:-test}"
need=()
# PostgreSQL: the lab's database pod (postgres:* images) runs the host's PostgreSQL server.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v wget >/dev/null 2>&1 || need+=(wget)
if [ "$profile" = test ]; then
  # Chromium: the dashboard's and the storefront's browser tests drive Debian's build.
  [ -x /usr/bin/chromium ] || need+=(chromium)
  # Prometheus: the telemetry tests scrape /metrics; the Argo example queries it in-cluster.
  command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
fi
if [ "$profile" = bench ]; then
  # wrk: the load generator of bench/mesh.py and bench/telemetry.py.
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "system-deps: missing ${need[*]}; install them with apt-get (needs root)" >&2; exit 1; fi
fi
echo "system-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
