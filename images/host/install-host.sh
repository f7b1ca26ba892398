#!/usr/bin/env bash
# Bake a ClaraTeach host image: everything the startup script would otherwise install at boot.
# Run as root on a Debian 12 build VM (Packer does this, see host.pkr.hcl):
#
#   AGENT_WHEEL=/tmp/clarateach-0.1.0-py3-none-any.whl SEAT_IMAGE=REGION-docker.pkg.dev/P/R/seat:TAG \
#   DOCKER_DAEMON_JSON=/tmp/docker-daemon.json bash install-host.sh
#
# Result: Docker (configured, enabled), Caddy (installed, disabled until the startup script
# writes its site), the agent user (UID 1000, same as the seat image's learner), the agent
# venv in /opt/clarateach/venv, and the seat image in Docker's store. Boot then installs
# nothing (shared/host_bootstrap/startup.sh.tmpl checks each piece and only falls back).
set -euo pipefail

: "${AGENT_WHEEL:?path of the clarateach wheel}"
: "${SEAT_IMAGE:?seat image reference}"
: "${DOCKER_DAEMON_JSON:?path of shared/host_bootstrap/docker-daemon.json}"

readonly AGENT_USER=clarateach
readonly AGENT_UID=1000
readonly AGENT_VENV=/opt/clarateach/venv
readonly MD_URL=http://169.254.169.254/computeMetadata/v1

log() { printf 'install-host: %s\n' "$*" >&2; }

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    ca-certificates curl docker.io caddy python3-venv >/dev/null
  # Caddy starts only once the startup script has written the host's site.
  systemctl disable --now caddy
}

configure_docker() {
  install -D -m 0644 "$DOCKER_DAEMON_JSON" /etc/docker/daemon.json
  systemctl enable docker
  systemctl restart docker
}

create_agent_user() {
  if getent passwd "$AGENT_UID" >/dev/null && [ "$(id -un "$AGENT_UID")" != "$AGENT_USER" ]; then
    log "UID $AGENT_UID is taken by $(id -un "$AGENT_UID"); build with OS Login (use_os_login)"
    exit 1
  fi
  getent group "$AGENT_USER" >/dev/null || groupadd --gid "$AGENT_UID" "$AGENT_USER"
  id -u "$AGENT_USER" >/dev/null 2>&1 ||
    useradd --system --uid "$AGENT_UID" --gid "$AGENT_USER" --home-dir /opt/clarateach \
      --no-create-home --shell /usr/sbin/nologin "$AGENT_USER"
  usermod -aG docker "$AGENT_USER"
  install -d -m 0700 -o "$AGENT_USER" -g "$AGENT_USER" /var/lib/clarateach/agent
}

install_agent() {
  python3 -m venv "$AGENT_VENV"
  "$AGENT_VENV/bin/pip" install --quiet --disable-pip-version-check "$AGENT_WHEEL"
  "$AGENT_VENV/bin/python" -c 'import workspace_agent'
}

# Pull with the build VM's service account (Artifact Registry reader); the token goes through
# a pipe into a throw-away docker config, never argv, and is not left in the image.
pull_seat_image() {
  local registry=${SEAT_IMAGE%%/*} config
  config=$(mktemp -d)
  if [[ $registry == *.pkg.dev || $registry == *gcr.io ]]; then
    curl --fail --silent --show-error --header 'Metadata-Flavor: Google' \
      "$MD_URL/instance/service-accounts/default/token" |
      python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["access_token"])' |
      docker --config "$config" login --username oauth2accesstoken --password-stdin "https://$registry" >/dev/null
  fi
  docker --config "$config" pull --quiet "$SEAT_IMAGE" >/dev/null
  rm -rf "$config"
}

# Google's Ops Agent ships the journal to Cloud Logging; the startup script writes its
# configuration (workshop and host labels) at boot
# (https://cloud.google.com/stackdriver/docs/solutions/agents/ops-agent/installation).
install_ops_agent() {
  local script
  script=$(mktemp)
  curl --fail --silent --show-error -o "$script" \
    https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh
  bash "$script" --also-install
  rm -f "$script"
}

clean_up() {
  apt-get clean
  rm -rf /var/lib/apt/lists/* /tmp/* /root/.cache
}

install_packages
configure_docker
create_agent_user
install_agent
install_ops_agent
pull_seat_image
clean_up
log "host image ready: docker, caddy, agent venv, Ops Agent, $SEAT_IMAGE"
