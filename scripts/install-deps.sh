#!/usr/bin/env bash
# Installs what building and testing the workspace needs, only what is
# missing: the C client libraries diesel links against
# (default-libmysqlclient-dev, libpq-dev, pkg-config) with apt-get, and
# cargo-nextest. Idempotent; scripts/test.sh and .ci/run call it.
#
#   bash scripts/install-deps.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/common.sh

missing=()
for pkg in default-libmysqlclient-dev libpq-dev pkg-config; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        missing+=("$pkg")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    say "installing cargo-nextest (not found)"
    cargo install --locked cargo-nextest
fi
