#!/usr/bin/env bash
# Install Tesseract OCR (Debian's tesseract-ocr, English data) for --burned_in redact when it
# is missing and we are root. Without it the redaction tests skip (and fail under CI=true).
set -u
command -v tesseract >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing tesseract-ocr (not root or no apt-get); the OCR tests will skip (or fail under CI=true)" >&2
  exit 0
fi
echo "installing tesseract-ocr ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -q --no-install-recommends tesseract-ocr tesseract-ocr-eng >/tmp/medcv-apt-ocr.log 2>&1; }
apt_install || { apt-get update -q >/tmp/medcv-apt-update.log 2>&1; apt_install; } \
  || { echo "apt-get install tesseract-ocr failed; see /tmp/medcv-apt-ocr.log" >&2; tail -5 /tmp/medcv-apt-ocr.log >&2; }
exit 0
