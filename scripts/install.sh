#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up Atrium on a fresh Debian 12 machine (as root): system packages, the project's virtual
# environment, the build, and the kernelspec installed into that environment. Then runs the demo.
#   bash scripts/install.sh            # everything, then the demo
#   bash scripts/install.sh --no-demo  # set-up and build only (the test command uses this)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.venv"

run_demo=1
for arg in "$@"; do
    case "$arg" in
        --no-demo) run_demo=0 ;;
        *) echo "install.sh: unknown option '$arg' (expected --no-demo)" >&2; exit 2 ;;
    esac
done

apt_packages=(
    build-essential cmake ninja-build pkg-config
    xeus-dev cppzmq-dev libzmq3-dev nlohmann-json3-dev pybind11-dev pybind11-json-dev catch2 libssl-dev uuid-dev
    python3-dev python3-venv
    xpython tmux
    clang-14 libclang-rt-14-dev
    chromium
)
# The browser tests run playwright-core under node; any node >= 18 with npm will do (Debian's, or one
# already installed from elsewhere, which brings its own npm).
command -v npm > /dev/null || apt_packages+=(nodejs npm)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

# The environment must come from Debian's python3: it is the libpython the kernel embeds. The python3
# first on PATH may be another build (pyenv) with its own libpython.
if [ ! -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c 'import sys; sys.exit(sys.base_prefix != "/usr")'; then
    echo "== creating $venv from /usr/bin/python3"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
fi
echo "== installing Python packages into $venv"
"$venv/bin/python3" -m pip install -q --disable-pip-version-check -r scripts/python-requirements.txt

# IPython's own tests (its wheel ships none), from the pinned version's source distribution on PyPI:
# test/protocol/test_ipython_own_tests.py runs them against an Atrium context's shell.
ipython_version=$(sed -n 's/^ipython==//p' scripts/python-requirements.txt)
ipython_tests="$venv/share/ipython-tests/$ipython_version"
if [ ! -f "$ipython_tests/tests/test_magic.py" ]; then
    echo "== fetching IPython $ipython_version's tests (its source distribution)"
    download=$(mktemp -d)
    "$venv/bin/python3" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        -d "$download" "ipython==$ipython_version"
    rm -rf "$ipython_tests" && mkdir -p "$ipython_tests"
    tar -xzf "$download/ipython-$ipython_version.tar.gz" -C "$ipython_tests" --strip-components=1 \
        "ipython-$ipython_version/tests"
    rm -rf "$download"
fi

echo "== installing the browser driver (playwright-core, pinned by test/e2e/browser/package-lock.json)"
# It drives Debian's chromium; it downloads no browser of its own.
if ! cmp -s test/e2e/browser/package-lock.json test/e2e/browser/node_modules/.installed-lock.json; then
    (cd test/e2e/browser && npm ci --no-audit --no-fund --loglevel=error &&
        cp package-lock.json node_modules/.installed-lock.json)
fi

echo "== building"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$venv" \
      -DATRIUM_PYTHON_ENV="$venv" > /dev/null
cmake --build build
cmake --install build > /dev/null
"$venv/bin/jupyter" kernelspec list

if [ "$run_demo" = 1 ]; then
    # Two notebooks (examples/host_demo/) on one Atrium host, side by side, through jupyter_client; the demo
    # starts its host in a runtime directory of its own and stops it at the end.
    echo "== demo: two notebooks on one Atrium host (examples/run_host_demo.py)"
    "$venv/bin/python3" examples/run_host_demo.py
fi
