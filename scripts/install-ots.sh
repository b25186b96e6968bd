#!/usr/bin/env bash
# Installs OpenTAKServer (PyPI) into a virtual environment of its own, .venv-ots (or $KEEPCLEAR_OTS_VENV),
# for the integration test that carries TAK traffic through a real TAK server
# (tests/interop/test_interop_takserver.py). It is not a dependency of keepclear: its own pins
# (Flask, SQLAlchemy, protobuf, ...) stay apart from the project's environment.
# OpenTAKServer 1.7.14 declares Python >= 3.10 but its code needs 3.12 (f-strings with nested quotes:
# "SyntaxError: f-string: unmatched '['" on 3.11), so a python3.12 or newer is looked for on PATH and
# in pyenv. Without one, or if the install fails, this says why and exits 0: the test then skips,
# naming what is missing. It also needs PostGIS and RabbitMQ, which scripts/services.sh provides.
set -euo pipefail
cd "$(dirname "$0")/.."

OTS_VENV=${KEEPCLEAR_OTS_VENV:-.venv-ots}
OTS_VERSION=1.7.14
log() { echo "install-ots: $*" >&2; }

if [ -x "$OTS_VENV/bin/eud_handler" ] && "$OTS_VENV/bin/python" -c "import opentakserver" 2>/dev/null; then
    exit 0
fi
python=""
for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
    # A pyenv shim is on PATH even when its version is not active: only one that runs counts.
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    log "no python3.12 or newer found (OpenTAKServer $OTS_VERSION needs one): the TAK server test will skip"
    exit 0
fi
log "installing opentakserver==$OTS_VERSION with $python into $OTS_VENV"
rm -rf "$OTS_VENV"
if ! { "$python" -m venv "$OTS_VENV" \
        && "$OTS_VENV/bin/python" -m pip install --quiet --upgrade pip \
        && "$OTS_VENV/bin/python" -m pip install --quiet "opentakserver==$OTS_VERSION"; }; then
    log "installing OpenTAKServer failed: the TAK server test will skip"
    rm -rf "$OTS_VENV"
fi
exit 0
