#!/usr/bin/env bash
# Install the real PACS peers the tests talk to (Orthanc with its DICOMweb plugin,
# dcmtk's storescu/dcmsend/findscu, dicom3tools' dciodvfy) when they are missing and
# we are root. Without them the tests that need them skip (and fail under CI=true).
set -u
missing=()
command -v Orthanc >/dev/null || missing+=(orthanc)
[ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing+=(orthanc-dicomweb)
command -v storescu >/dev/null || missing+=(dcmtk)
command -v dciodvfy >/dev/null || missing+=(dicom3tools)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing ${missing[*]} (not root or no apt-get); the PACS tests will skip (or fail under CI=true)" >&2
  exit 0
fi
echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
# The package's service must not start here: the tests run their own Orthanc.
policy=/usr/sbin/policy-rc.d; made_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made_policy=1; fi
apt_install() { apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/medcv-apt.log 2>&1; }
apt_install || { apt-get update -q >/tmp/medcv-apt-update.log 2>&1; apt_install; } \
  || { echo "apt-get install ${missing[*]} failed; see /tmp/medcv-apt.log" >&2; tail -5 /tmp/medcv-apt.log >&2; }
[ $made_policy = 1 ] && rm -f "$policy"
exit 0
