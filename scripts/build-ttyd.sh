#!/usr/bin/env bash
# Build ttyd (https://github.com/tsl0922/ttyd) for benchmarks/terminal_bench.py.
# Bench-only: never part of .ci/run. The benchmark skips ttyd when it has not been built.
#
# Usage: scripts/build-ttyd.sh [SOURCE]
#   SOURCE  a local ttyd git dir (bare or not) or an unpacked source tree.
#           Default: $TTYD_SOURCE, else a clone of https://github.com/tsl0922/ttyd
#           (needs internet; offline machines pass a local mirror).
# Env: TTYD_REF   commit or tag to build (default 647d55a, which is tag 1.7.7)
#      TTYD_BUILD build dir (default .cache/ttyd under the repo); the binary ends up
#                 in $TTYD_BUILD/build/ttyd, where terminal_bench.py looks for it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ref="${TTYD_REF:-647d55a}"
src="${1:-${TTYD_SOURCE:-https://github.com/tsl0922/ttyd}}"
out="${TTYD_BUILD:-$root/.cache/ttyd}"

pkgs=(cmake build-essential libwebsockets-dev libuv1-dev libjson-c-dev zlib1g-dev libssl-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing build packages: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rm -rf "$out/src" "$out/build"
mkdir -p "$out/src" "$out/build"
case "$src" in
  http://* | https://* | git@*)
    git clone --quiet "$src" "$out/clone"
    git -C "$out/clone" archive "$ref" | tar -x -C "$out/src"
    rm -rf "$out/clone"
    ;;
  *)
    if git --git-dir="$src" rev-parse --verify --quiet "$ref^{commit}" >/dev/null 2>&1; then
      git --git-dir="$src" archive "$ref" | tar -x -C "$out/src"
    elif git -C "$src" rev-parse --verify --quiet "$ref^{commit}" >/dev/null 2>&1; then
      git -C "$src" archive "$ref" | tar -x -C "$out/src"
    elif [ -f "$src/CMakeLists.txt" ]; then
      cp -a "$src/." "$out/src/"
    else
      echo "build-ttyd: $src is neither a git dir holding $ref nor a ttyd source tree" >&2
      exit 2
    fi
    ;;
esac

cd "$out/build"
cmake -DCMAKE_BUILD_TYPE=Release "$out/src" >/dev/null
make -j"$(nproc)" >/dev/null
"$out/build/ttyd" --version
echo "$out/build/ttyd"
