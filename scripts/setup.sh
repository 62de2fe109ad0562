#!/usr/bin/env bash
# Install budgetkg and what its tests and query page need, on a fresh Debian machine with Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test,ocr]'
if [ "${BUDGETKG_SKIP_APT:-0}" != "1" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  need=()
  pkgs=(fonts-wqy-zenhei fonts-arphic-uming chromium virtuoso-opensource-7-bin)
  pkgs+=(tesseract-ocr tesseract-ocr-chi-sim poppler-utils)  # OCR (budgetkg/ocr.py) and scripts/make_scans.py
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
  for pkg in "${pkgs[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
if [ -f scripts/install_ui.sh ] && command -v npm >/dev/null 2>&1; then
  bash scripts/install_ui.sh
fi
