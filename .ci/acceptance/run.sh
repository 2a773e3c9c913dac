#!/usr/bin/env bash
# Keyplane official-SDK acceptance suite (Tencent Cloud API 3.0, the
# Alibaba Cloud OpenAPI RPC dialect: IMS, SMC and the SMC agent endpoint, and
# PAI-EAS with the Workbench in headless Chromium).
#
#   .ci/acceptance/run.sh [pytest args...]      e.g.  run.sh -k node -x
#
# Idempotent: creates/refreshes .venv (requirements.txt: the Tencent and the
# Alibaba Python SDKs), .venv-tccli (requirements-tccli.txt) and node_modules
# (npm ci from package-lock.json: tencentcloud-sdk-nodejs, @alicloud/pop-core)
# only when their pins changed, builds the server with
# `cargo build -p keyplane-server`, then runs pytest.  Exit code = pytest's.
#
# Environment:
#   KEYPLANE_BIN=/path/to/keyplane   test this binary (no cargo build unless it is
#                                    this workspace's own target/debug/keyplane)
#   KEYPLANE_SKIP_BUILD=1            do not run cargo (binary must exist)
#   KEYPLANE_KEEP_DATA=1             keep the temporary data directories
#   PYTHON=python3.11                interpreter for the virtualenvs
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -n "${KEYPLANE_BIN:-}" ]; then
  case "$KEYPLANE_BIN" in /*) ;; *) KEYPLANE_BIN="$PWD/$KEYPLANE_BIN" ;; esac
fi
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
STAMPS="$HERE/.stamps"
mkdir -p "$STAMPS"

log() { printf '[acceptance] %s\n' "$*" >&2; }

# Run a command quietly; show its output only if it fails.
quiet() {
  local out rc=0
  out="$(mktemp)"
  "$@" >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$out" >&2
    rm -f "$out"
    log "FAILED (exit $rc): $*"
    return "$rc"
  fi
  rm -f "$out"
}

fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

# The local loopback calls must never go through a proxy (protocols.md A.6,
# B.9): the Tencent Node SDK only honours http_proxy and ignores NO_PROXY, and
# the Alibaba tea Python SDK ignores NO_PROXY (and Config.no_proxy) altogether.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY || true
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# ---- virtualenvs -------------------------------------------------------------
make_venv() { # dir requirements-file
  local dir="$1" req="$2" stamp want
  stamp="$STAMPS/$(basename "$dir").sha256"
  want="$(fingerprint "$req"; "$PYTHON" -c 'import sys; print(sys.version)')"
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import sys' 2>/dev/null \
     && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "installing $(basename "$req") into $(basename "$dir")"
  rm -rf "$dir"
  quiet "$PYTHON" -m venv "$dir"
  quiet "$dir/bin/python" -m pip install --quiet -r "$req"
  printf '%s' "$want" >"$stamp"
}

make_venv "$HERE/.venv" "$HERE/requirements.txt"
make_venv "$HERE/.venv-tccli" "$HERE/requirements-tccli.txt"

# ---- Chromium (the Workbench browser test) -------------------------------------
# Debian's chromium, driven by playwright-core (which downloads no browser).  Installed
# quietly when missing; if that is impossible the browser test skips and says why.
if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium (apt-get) for the Workbench browser test"
  apt_sudo=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    apt_sudo="sudo -n"
  fi
  if ! { quiet $apt_sudo apt-get update -q && \
         quiet $apt_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }; then
    log "chromium could not be installed: the Workbench browser test will be skipped"
  fi
fi

# ---- node_modules ------------------------------------------------------------
command -v node >/dev/null || { log "node not found"; exit 1; }
command -v npm >/dev/null || { log "npm not found"; exit 1; }
npm_stamp="$STAMPS/node_modules.sha256"
npm_want="$(fingerprint "$HERE/package.json" "$HERE/package-lock.json"; node --version)"
if [ ! -d "$HERE/node_modules/tencentcloud-sdk-nodejs" ] || [ ! -d "$HERE/node_modules/@alicloud/pop-core" ] \
   || [ ! -d "$HERE/node_modules/playwright-core" ] \
   || [ ! -f "$npm_stamp" ] \
   || [ "$(cat "$npm_stamp")" != "$npm_want" ]; then
  log "npm ci"
  (cd "$HERE" && quiet npm ci --no-audit --no-fund --loglevel=error)
  printf '%s' "$npm_want" >"$npm_stamp"
fi

# ---- the server ----------------------------------------------------------------
# Built unless KEYPLANE_SKIP_BUILD=1 or KEYPLANE_BIN names a binary outside this
# workspace's target directory (cargo is a no-op when the binary is current).
target_dir="${CARGO_TARGET_DIR:-$REPO/target}"
case "$target_dir" in /*) ;; *) target_dir="$REPO/$target_dir" ;; esac
default_bin="$target_dir/debug/keyplane"
if [ "${KEYPLANE_SKIP_BUILD:-0}" = "1" ]; then
  log "KEYPLANE_SKIP_BUILD=1: not building"
elif [ -n "${KEYPLANE_BIN:-}" ] && [ "$KEYPLANE_BIN" != "$default_bin" ]; then
  log "using KEYPLANE_BIN=$KEYPLANE_BIN (not building)"
else
  log "cargo build -p keyplane-server"
  (cd "$REPO" && quiet cargo build -p keyplane-server)
fi
export KEYPLANE_BIN="${KEYPLANE_BIN:-$default_bin}"
[ -x "$KEYPLANE_BIN" ] || { log "no server binary at $KEYPLANE_BIN"; exit 1; }

# ---- the suite -----------------------------------------------------------------
cd "$HERE"
log "pytest ($KEYPLANE_BIN)"
rc=0
"$HERE/.venv/bin/python" -m pytest "$@" || rc=$?
exit "$rc"
