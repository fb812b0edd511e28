#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test: C++ unit tests, then the protocol and end-to-end suites against the real kernel binary.
# Performs the set-up first when needed, so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --no-demo
ctest --test-dir build --output-on-failure "$@"
