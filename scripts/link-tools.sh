#!/usr/bin/env bash
# The tools are one binary, `dlg`; each tool's name is a relative link to it beside it (dlg-gen -> dlg, ...),
# which it tells apart by the name it was started as. dlg-run starts its stages as <its folder>/dlg-gen etc.,
# the tests run <build folder>/dlg-gen, so every build folder gets the links: run after each `swift build`.
#   link-tools.sh BIN_DIR     idempotent; a tool left there by an older build (a file, not a link) is replaced
set -euo pipefail
TOOLS=(dlg-gen dlg-dedup dlg-respond dlg-judge dlg-export dlg-run dlg-cluster)

dir=${1:?usage: link-tools.sh BIN_DIR}
[ -x "$dir/dlg" ] || { echo "link-tools: $dir/dlg is missing; build first (swift build)" >&2; exit 66; }
for t in "${TOOLS[@]}"; do
  [ "$(readlink "$dir/$t" 2>/dev/null)" = dlg ] && continue
  # A new link under a temporary name, renamed over the old entry: no moment without a dlg-gen.
  tmp="$dir/.$t.link.$$"
  ln -sfn dlg "$tmp"
  mv -Tf "$tmp" "$dir/$t"
done
