#!/usr/bin/env bash
# Install headless Chromium (Debian's chromium) when it is missing and we are root: the
# evaluation report's browser test renders report.html in it. Without it that test skips
# (and fails under CI=true).
set -u
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing chromium (not root or no apt-get); the report screenshot test will skip (or fail under CI=true)" >&2
  exit 0
fi
echo "installing chromium ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/tmp/medcv-apt-chromium.log 2>&1; }
apt_install || { apt-get update -q >/tmp/medcv-apt-update.log 2>&1; apt_install; } \
  || { echo "apt-get install chromium failed; see /tmp/medcv-apt-chromium.log" >&2; tail -5 /tmp/medcv-apt-chromium.log >&2; }
exit 0
