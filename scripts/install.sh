#!/usr/bin/env bash
# make install / make uninstall: the one binary `dlg` (stripped), a link to it for each tool, a man page
# and bash, zsh and fish completions for each tool, and dlg-cluster's helpers (share/dlgforge), where each shell looks
# for them under PREFIX (DESTDIR prepended, for packaging).
#   install.sh install BIN_DIR PREFIX [DESTDIR]
#   install.sh uninstall PREFIX [DESTDIR]      removes exactly the files install writes
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=(dlg-gen dlg-dedup dlg-respond dlg-judge dlg-export dlg-run dlg-cluster)
# dlg-cluster's helpers, found there when there is no checkout: the Ray driver, and the scripts that start
# Ray and PostgreSQL on a head host (an installed dlg-cluster needs a Python with Ray: --python).
HELPERS=(cluster_driver.py ray.sh pg.sh ensure-deps.sh)

files_of() { # the files install writes for TOOL, relative to PREFIX
  local t=$1
  echo "bin/$t"
  echo "share/man/man1/$t.1"
  echo "share/bash-completion/completions/$t"
  echo "share/zsh/site-functions/_$t"
  echo "share/fish/vendor_completions.d/$t.fish"
}

verb=${1:-}
case "$verb" in
  install)
    bin=$2; prefix=$3; dest=${4:-}
    root="$dest$prefix"
    [ -x "$bin/dlg" ] || { echo "install: $bin/dlg is missing; build first (make build)" >&2; exit 66; }
    command -v strip >/dev/null || { echo "install: strip is missing (Debian: apt-get install binutils)" >&2; exit 69; }
    scripts/link-tools.sh "$bin"
    echo "install: dlg and its tools, man pages, bash/zsh/fish completions into $root" >&2
    mkdir -p "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
             "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d" "$root/share/dlgforge"
    # Stripped: the symbols are most of a release binary's size and nothing at run time reads them.
    install -m 0755 -s "$bin/dlg" "$root/bin/dlg"
    for t in "${TOOLS[@]}"; do
      ln -sfn dlg "$root/bin/$t"
      # From the build folder's link, not the installed one: the same binary, and DESTDIR may not run.
      python3 scripts/manpage.py "$bin/$t" > "$root/share/man/man1/$t.1"
      "$bin/$t" --generate-completion-script bash > "$root/share/bash-completion/completions/$t"
      "$bin/$t" --generate-completion-script zsh > "$root/share/zsh/site-functions/_$t"
      "$bin/$t" --generate-completion-script fish > "$root/share/fish/vendor_completions.d/$t.fish"
      chmod 0644 "$root/share/man/man1/$t.1" "$root/share/bash-completion/completions/$t" \
                 "$root/share/zsh/site-functions/_$t" "$root/share/fish/vendor_completions.d/$t.fish"
    done
    install -m 0644 scripts/cluster_driver.py "$root/share/dlgforge/cluster_driver.py"
    install -m 0755 scripts/ray.sh scripts/pg.sh scripts/ensure-deps.sh "$root/share/dlgforge/"
    # dlg-run starts the stage tools from its own folder, so the installed run uses the installed stages.
    echo "install: done; try: $prefix/bin/dlg --help, $prefix/bin/dlg-run --help (and man dlg-run)" >&2
    ;;
  uninstall)
    prefix=$2; dest=${3:-}
    root="$dest$prefix"
    for t in "${TOOLS[@]}"; do
      while read -r f; do rm -f "$root/$f"; done < <(files_of "$t")
    done
    rm -f "$root/bin/dlg"
    for h in "${HELPERS[@]}"; do rm -f "$root/share/dlgforge/$h"; done
    # Remove the folders install made, only when they are now empty.
    for d in share/dlgforge share/fish/vendor_completions.d share/fish share/zsh/site-functions share/zsh \
             share/bash-completion/completions share/bash-completion share/man/man1 share/man share bin; do
      rmdir "$root/$d" 2>/dev/null || true
    done
    echo "uninstall: removed dlg, the dlgforge tools, man pages, completions and Ray driver from $root" >&2
    ;;
  *) echo "usage: install.sh install BIN_DIR PREFIX [DESTDIR] | uninstall PREFIX [DESTDIR]" >&2; exit 64 ;;
esac
