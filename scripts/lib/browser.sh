# Chromium for the console's browser tests (tests/console): Debian's package, driven by
# playwright-core through its executable path. Playwright's own browser download fetches from
# hosts a CI machine may not reach, and its builds lack the libraries Debian's package pulls in.
# Sourced after lib/common.sh; tests/helpers/browser.ts reads the same CHROMIUM_BIN.

CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}

browser_up() {
  [ -x "$CHROMIUM_BIN" ] && return 0
  [ "$CHROMIUM_BIN" = /usr/bin/chromium ] || die "CHROMIUM_BIN=$CHROMIUM_BIN is not an executable"
  apt_install chromium
  [ -x "$CHROMIUM_BIN" ] || die "apt-get installed chromium, but $CHROMIUM_BIN is still missing"
  say "chromium installed: $("$CHROMIUM_BIN" --version 2>/dev/null || echo "$CHROMIUM_BIN")"
}
