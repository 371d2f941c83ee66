#!/usr/bin/env bash
# Set up and launch the workbench. Usage: ./stapui.sh [stapui args]
set -euo pipefail
cd "$(dirname "$0")"
. ./scripts/setup.sh
exec .venv/bin/stapui "$@"
