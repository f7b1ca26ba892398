#!/usr/bin/env bash
# Install the Debian packages ClaraTeach needs, only if they are missing.
#   runtime: tmux (learner terminals on the local platform)
#   test:    runtime + chromium (browser e2e) + shellcheck (bootstrap scripts)
set -euo pipefail
want=(tmux)
if [ "${1:-runtime}" = "test" ]; then
  want+=(chromium shellcheck)
fi
missing=()
for pkg in "${want[@]}"; do
  command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
