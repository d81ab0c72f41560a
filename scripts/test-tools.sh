#!/usr/bin/env bash
# The Debian tools the tests use, in one place (npm test and .ci/run both call this): each is
# checked, and whatever is missing is installed with apt-get when running as root; otherwise the
# script stops at once with one line naming the packages to install.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
py() { /usr/bin/python3 -c "$1" >/dev/null 2>&1; }

have dcmdump || need+=(dcmtk)
have dciodvfy || need+=(dicom3tools)
have dcm2niix || need+=(dcm2niix)
py 'import pydicom, numpy' || need+=(python3-pydicom python3-numpy)
py 'import nibabel' || need+=(python3-nibabel)
py 'import scipy.ndimage' || need+=(python3-scipy)
py 'import onnx' || need+=(python3-onnx)
py 'import PIL' || need+=(python3-pil)
py 'import gdcm' || need+=(python3-gdcm)
[ -x /usr/bin/chromium ] || need+=(chromium)   # the viewer's end-to-end test (test/e2e/viewer.test.ts)
have xmllint || need+=(libxml2-utils)   # audit messages are validated against the PS3.15 schema
have openssl || need+=(openssl)        # throw-away certificates for the TLS tests
# A throw-away PostgreSQL cluster (initdb, pg_ctl in a temp dir) for the index contract and two-node tests.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && have apt-get; then
  echo "installing the Debian packages the tests use: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  exit 0
fi
echo "the tests need these Debian packages: sudo apt-get install ${need[*]}" >&2
exit 1
