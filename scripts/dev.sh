#!/usr/bin/env bash
# One entry point for a fresh machine: installs what is needed, then starts the app or runs the tests.
#   bash scripts/dev.sh app     # start the app on http://127.0.0.1:7860 (offline, no configuration)
#   bash scripts/dev.sh test    # lint, then run the whole test suite (installs Debian chromium for browser
#                               # tests and Debian postgresql for the store's PostgreSQL tests)
set -euo pipefail
cd "$(dirname "$0")/.."

ensure_uv() {
  if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check uv
  fi
}

ensure_env() {
  ensure_uv
  # Compiled bytecode: without it `import gradio` takes ~15 s on machines that set PYTHONDONTWRITEBYTECODE.
  uv sync --frozen --compile-bytecode --quiet
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
}

ensure_postgresql() {
  # The store's tests run against a real PostgreSQL server too (started by the tests themselves,
  # from the distribution's binaries in /usr/lib/postgresql/*/bin).
  if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then return; fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
}

cmd="${1:-}"
shift || true
case "$cmd" in
  app)
    ensure_env
    exec uv run --frozen python app.py "$@"
    ;;
  test)
    ensure_env
    ensure_chromium
    ensure_postgresql
    # The linter first (rules in pyproject.toml): a style error fails the run like a test.
    uv run --frozen ruff check --quiet .
    exec uv run --frozen python -m pytest "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh app|test [args...]" >&2
    exit 2
    ;;
esac
