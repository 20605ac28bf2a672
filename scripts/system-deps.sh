#!/usr/bin/env bash
# Installs the Debian packages turnout's demo and tests use, only when they are missing.
set -euo pipefail
need=()
# PostgreSQL: the lab's database pod (postgres:* images) runs the host's PostgreSQL server.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v wget >/dev/null 2>&1 || need+=(wget)
# Chromium: the dashboard's browser tests drive Debian's build through Playwright.
[ -x /usr/bin/chromium ] || need+=(chromium)
# Prometheus: the telemetry tests scrape /metrics with the real server.
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "system-deps: missing ${need[*]}; install them with apt-get (need root)" >&2; exit 0; fi
fi
echo "system-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
