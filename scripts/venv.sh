# Sourced by the scripts that install PyPI packages: the repo's .venv, made once. Debian's python3 needs
# python3-venv for `-m venv`; it is installed when missing, saying so.
VENV=.venv
PY=${PYTHON:-python3}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ] && ! "$PY" -m venv "$VENV" 2>/dev/null; then
    echo "dlgforge: installing Debian package python3-venv" >&2
    rm -rf "$VENV"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv "$VENV"
  fi
}
