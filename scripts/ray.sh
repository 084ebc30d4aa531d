#!/usr/bin/env bash
# Ray (PyPI `ray`, pinned) for dlg-cluster, installed into the repo's .venv once.
#   ray.sh install   install ray==$RAY_VERSION into .venv when missing (about 80 MB, about 2 min; says so)
#   ray.sh python    print the path of the Python that has Ray (installs first when missing)
# Ray itself is started and stopped by `dlg-cluster up|down` (or scripts/services/ray.sh for the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
RAY_VERSION=2.60.0

have_ray() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import ray, sys; sys.exit(ray.__version__ != '$RAY_VERSION')" 2>/dev/null
}

install() {
  have_ray && return
  echo "dlgforge: installing Ray $RAY_VERSION from PyPI into $VENV (about 80 MB, about 2 min; once)" >&2
  ensure_venv
  "$VENV/bin/pip" install -q --disable-pip-version-check "ray==$RAY_VERSION"
  have_ray || { echo "dlgforge: ray $RAY_VERSION not importable after install" >&2; exit 69; }
}

case "${1:-}" in
  install) install ;;
  python) install; echo "$PWD/$VENV/bin/python" ;;
  *) echo "usage: scripts/ray.sh install|python" >&2; exit 64 ;;
esac
