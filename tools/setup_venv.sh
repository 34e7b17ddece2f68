#!/bin/sh
# Creates the Python virtual environment used by tools/reference.py in <repo>/.venv
# (only if it is missing) and installs tools/requirements.txt into it. Safe to run again:
# pinned packages that are already installed are left alone.
#
# Usage: tools/setup_venv.sh [extra pip install options...]
#   e.g. pass an --index-url / --extra-index-url of your choice to get CPU-only torch wheels.
# PYTHON selects the interpreter used to create the environment (default: python3).
set -eu
tools_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$tools_dir/.." && pwd)
venv="$root/.venv"

if [ ! -x "$venv/bin/python" ]; then
    echo "setup_venv: creating $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$tools_dir/requirements.txt" "$@"
# Without its dependencies: see requirements.txt.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps k-diffusion==0.1.1.post1 "$@"
echo "setup_venv: ready ($venv/bin/python)" >&2
