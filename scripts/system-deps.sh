#!/usr/bin/env bash
# Install the Debian packages ClaraTeach needs, only if they are missing.
#   runtime: tmux (learner terminals), Node.js + npm (to bundle the web client),
#            bubblewrap (local hosts sandbox every seat shell with it),
#            passt (pasta: each sandboxed seat's own network namespace)
#   test:    runtime + chromium (browser e2e) + shellcheck (bootstrap scripts)
#            + pebble (Let's Encrypt's test ACME server: the deployment certificate)
# Each entry is "command:package".
set -euo pipefail
want=(tmux:tmux node:nodejs npm:npm bwrap:bubblewrap pasta:passt)
if [ "${1:-runtime}" = "test" ]; then
  want+=(chromium:chromium shellcheck:shellcheck pebble:pebble)
fi
missing=()
for entry in "${want[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
