#!/usr/bin/env bash
# Start the local MariaDB server when it is not answering, then wait for it.
# Tests read the server from MEDCV_TEST_MYSQL_URL; this only helps the default.
set -u
ping() { mariadb-admin --host=127.0.0.1 --port=3306 --user=root --connect-timeout=2 ping >/dev/null 2>&1; }
if ping; then exit 0; fi
if [ -x /usr/sbin/mariadbd ] && command -v start-stop-daemon >/dev/null; then
  echo "starting MariaDB ..." >&2
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  for _ in $(seq 1 60); do ping && exit 0; sleep 1; done
  echo "MariaDB did not answer within 60 s" >&2
else
  echo "no local MariaDB to start; MySQL tests will skip (or fail under CI=true)" >&2
fi
exit 0
