#!/usr/bin/env bash
# Make a local PostgreSQL answer at 127.0.0.1:5432 for the catalog tests: start the
# cluster when it is down; when no server is installed and we are root, install Debian's,
# let 127.0.0.1 in without a password (a test server only) and create database `test`.
# Tests read the server from MEDCV_TEST_POSTGRES_URL; this only helps the default.
# Without a server the PostgreSQL tests skip (and fail under CI=true).
set -u
ping() { pg_isready --host=127.0.0.1 --port=5432 --timeout=2 >/dev/null 2>&1; }
wait_up() { for _ in $(seq 1 60); do ping && return 0; sleep 1; done; return 1; }
if command -v pg_isready >/dev/null && ping; then exit 0; fi
installed_here=0
if ! command -v pg_lsclusters >/dev/null || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "no local PostgreSQL (not root or no apt-get); its tests will skip (or fail under CI=true)" >&2
    exit 0
  fi
  echo "installing postgresql ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -q --no-install-recommends postgresql >/tmp/medcv-apt-postgres.log 2>&1; }
  apt_install || { apt-get update -q >/tmp/medcv-apt-update.log 2>&1; apt_install; } \
    || { echo "apt-get install postgresql failed; see /tmp/medcv-apt-postgres.log" >&2; exit 0; }
  installed_here=1
fi
read -r version cluster _ < <(pg_lsclusters -h | head -1)
if [ "$installed_here" = 1 ]; then
  hba="/etc/postgresql/$version/$cluster/pg_hba.conf"
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
fi
echo "starting PostgreSQL $version/$cluster ..." >&2
pg_ctlcluster "$version" "$cluster" start >/dev/null 2>&1 || pg_ctlcluster "$version" "$cluster" reload >/dev/null 2>&1 || true
if ! wait_up; then
  echo "PostgreSQL did not answer within 60 s" >&2
  exit 0
fi
if [ "$installed_here" = 1 ]; then
  psql --host=127.0.0.1 --username=postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
    | grep -q 1 || createdb --host=127.0.0.1 --username=postgres test
fi
exit 0
