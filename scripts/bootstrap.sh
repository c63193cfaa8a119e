# Installs whatever is missing for building and testing Switchyard, from the package
# registries only (crates.io, npm, Debian). Sourced by scripts/run and scripts/test.
# Each step checks first, so a warm machine spends seconds here.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }

timed() {
  # timed LABEL CMD...: runs CMD and records how long it took, for the summary.
  local label="$1"; shift
  local start=$SECONDS
  "$@"
  TIMINGS+=("$(printf '%-34s %5ss' "$label" "$((SECONDS - start))")")
}
TIMINGS=()

print_timings() {
  printf '\n==> Time per step\n'
  printf '  %s\n' "${TIMINGS[@]}"
}

need_tool() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required ($2)" >&2; exit 1; }
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || { step "Adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }
}

ensure_wasm_bindgen() {
  # The CLI must match the wasm-bindgen crate pinned in Cargo.lock exactly.
  local wanted
  wanted="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$REPO_ROOT/Cargo.lock")"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wanted" ]; then
    step "Installing wasm-bindgen-cli $wanted"
    # Optimised less than cargo's release default: the same bindings, as fast to generate (about
    # a second), for 15 % less build CPU on a first start (figures in bench/README.md).
    # Without default features: they only give the test runner's downloader TLS (rustls + ring),
    # which we never run; another 27 % of the install's CPU.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install wasm-bindgen-cli --version "$wanted" --no-default-features
  fi
}

npm_ci_if_needed() {
  # npm_ci_if_needed DIR: installs DIR's locked npm packages when missing or outdated.
  local dir="$1"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    local relative="${dir#"$REPO_ROOT"}"
    step "Installing npm packages in ./${relative#/}"
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}

ensure_quick_build_tools() {
  need_tool cargo "install Rust with rustup"
  need_tool npm "install Node.js 20"
  ensure_wasm_target
  # wasm-opt from npm's binaryen (Debian's older binaryen builds wasm that never hydrates).
  npm_ci_if_needed "$REPO_ROOT"
  export PATH="$REPO_ROOT/node_modules/.bin:$PATH"
}

ensure_build_tools() {
  ensure_quick_build_tools
  ensure_wasm_bindgen
}

ensure_sdk_python() {
  # A Python with the official openai and anthropic SDKs, pinned, for the tests that drive the
  # proxy with them (tests/proxy/sdk.rs).
  local venv="$HOME/.cache/switchyard/sdk-venv" openai="3.57.0" anthropic="2.14.0"
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    step "Installing Debian's python3 and python3-venv for the SDK test"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends python3 python3-venv
  fi
  if [ "$("$venv/bin/python" -c 'import openai, anthropic; print(openai.__version__, anthropic.__version__)' 2>/dev/null)" != "$openai $anthropic" ]; then
    step "Installing the Python SDKs openai $openai and anthropic $anthropic"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openai==$openai" "anthropic==$anthropic"
  fi
  export SWITCHYARD_SDK_PYTHON="$venv/bin/python"
}

ensure_sdk_node() {
  # The official openai Node SDK (tests/sdk/package.json), for the JavaScript side of the SDK test.
  npm_ci_if_needed "$REPO_ROOT/tests/sdk"
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    step "Installing Debian's chromium for the browser tests"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium
  fi
  npm_ci_if_needed "$REPO_ROOT/end2end"
}
