#!/usr/bin/env bash
# Set up everything the test suite needs and run it. Usage: ./test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")"
. ./scripts/setup.sh
exec .venv/bin/python -m pytest tests "$@"
