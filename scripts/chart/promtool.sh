#!/usr/bin/env bash
# Prints the path of promtool on stdout, fetching it first when there is none.
# promtool ships in Debian's `prometheus` package. Installing that package would also install
# (and on some hosts start) a Prometheus server, so only the package file is downloaded and
# promtool, a static binary, is unpacked from it into .stack/bin.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/../lib/common.sh"

bin_dir=$STACK_DIR/bin
if [ -x "$bin_dir/promtool" ]; then
  echo "$bin_dir/promtool"
  exit 0
fi
if path_promtool=$(command -v promtool); then
  echo "$path_promtool"
  exit 0
fi

command -v apt-get >/dev/null || die "promtool is missing: install Prometheus' promtool (https://prometheus.io/download/)"
mkdir -p "$bin_dir"
exec 9>"$bin_dir/.promtool.lock"
flock 9
if [ ! -x "$bin_dir/promtool" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  say "fetching promtool from Debian's prometheus package (first run only)"
  # `apt-get download` fails when the package lists were never fetched (fresh images).
  if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    (cd "$work" && apt-get download prometheus >/dev/null)
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  install -m 0755 "$work/root/usr/bin/promtool" "$bin_dir/promtool"
fi
echo "$bin_dir/promtool"
