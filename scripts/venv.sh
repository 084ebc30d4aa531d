# Sourced by the scripts that install PyPI packages: the repo's .venv, made once. Debian's python3 needs
# python3-venv for `-m venv`; ensure-deps.sh installs it when missing, saying so.
VENV=.venv
PY=${PYTHON:-python3}
VENV_HERE=$(dirname "${BASH_SOURCE[0]}")

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ] && ! "$PY" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    "$VENV_HERE/ensure-deps.sh" python3-venv
    "$PY" -m venv "$VENV"
  fi
}
