#!/usr/bin/env bash
# ClaraTeach host firewall for learner containers. Installed as
# /usr/local/sbin/clarateach-firewall and run by clarateach-firewall.service after every
# Docker start (and so on every boot); idempotent.
#
# Containers are untrusted (every learner has a shell). They may reach the internet and the
# agent's port on the docker0 address (the model gateway), nothing else:
#   * CLARATEACH-EGRESS, jumped to first from DOCKER-USER (forwarded container traffic):
#     no metadata server (its VM service-account token would be the learner's), no link-local,
#     no private ranges (other hosts in the VPC, other containers).
#   * CLARATEACH-SEATS-IN, jumped to from INPUT for traffic from Docker bridges: only the
#     agent port; no sshd, no Caddy admin, no other host service.
#   * CLARATEACH-SEATS-V6 (ip6tables), jumped to from INPUT and FORWARD for IPv6 from Docker
#     bridges: everything refused. Seats are IPv4-only, but the kernel gives every bridge a
#     link-local IPv6 address, a path to [::]-bound host services the IPv4 rules never see.
# Traffic between containers on one bridge is off in Docker itself (icc=false).
set -euo pipefail

readonly METADATA_IP=169.254.169.254
readonly AGENT_ADDR=${CLARATEACH_FIREWALL_AGENT_ADDR:-172.17.0.1}
readonly AGENT_PORT=${CLARATEACH_FIREWALL_AGENT_PORT:-8080}
readonly BRIDGES=(docker0 br-+)
readonly PRIVATE_RANGES=(169.254.0.0/16 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10)

ipt() { iptables -w "$@"; }
ip6t() { ip6tables -w "$@"; }

# Create the chain, or empty it so that a re-run replaces the rules instead of stacking them.
reset_chain() {
  ipt -N "$1" 2>/dev/null || ipt -F "$1"
}

# Insert "$@" at the top of chain $1 unless an identical rule is already there.
ensure_first() {
  local chain=$1
  shift
  ipt -C "$chain" "$@" 2>/dev/null || ipt -I "$chain" 1 "$@"
}

apply_egress_rules() {
  reset_chain CLARATEACH-EGRESS
  # DNS only: Docker's embedded resolver forwards queries from the container's namespace to
  # the VM's resolver, which on GCE is the metadata server. Port 53 serves no credentials.
  ipt -A CLARATEACH-EGRESS -d "$METADATA_IP/32" -p udp --dport 53 -j RETURN
  ipt -A CLARATEACH-EGRESS -d "$METADATA_IP/32" -p tcp --dport 53 -j RETURN
  # The metadata block, for every container on every Docker network.
  ipt -A CLARATEACH-EGRESS -d "$METADATA_IP/32" -j REJECT --reject-with icmp-admin-prohibited
  local bridge range
  for bridge in "${BRIDGES[@]}"; do
    for range in "${PRIVATE_RANGES[@]}"; do
      ipt -A CLARATEACH-EGRESS -i "$bridge" -d "$range" -j REJECT --reject-with icmp-admin-prohibited
    done
  done
  ipt -N DOCKER-USER 2>/dev/null || true
  ensure_first DOCKER-USER -j CLARATEACH-EGRESS
}

apply_host_input_rules() {
  reset_chain CLARATEACH-SEATS-IN
  ipt -A CLARATEACH-SEATS-IN -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  ipt -A CLARATEACH-SEATS-IN -p tcp -d "$AGENT_ADDR" --dport "$AGENT_PORT" -j ACCEPT
  ipt -A CLARATEACH-SEATS-IN -j REJECT --reject-with icmp-admin-prohibited
  local bridge
  for bridge in "${BRIDGES[@]}"; do
    ensure_first INPUT -i "$bridge" -j CLARATEACH-SEATS-IN
  done
}

apply_ipv6_rules() {
  command -v ip6tables >/dev/null 2>&1 || return 0  # no IPv6 netfilter: no IPv6 either
  ip6t -N CLARATEACH-SEATS-V6 2>/dev/null || ip6t -F CLARATEACH-SEATS-V6
  ip6t -A CLARATEACH-SEATS-V6 -j REJECT --reject-with icmp6-adm-prohibited
  local bridge chain
  for bridge in "${BRIDGES[@]}"; do
    for chain in INPUT FORWARD; do
      ip6t -C "$chain" -i "$bridge" -j CLARATEACH-SEATS-V6 2>/dev/null ||
        ip6t -I "$chain" 1 -i "$bridge" -j CLARATEACH-SEATS-V6
    done
  done
}

apply_egress_rules
apply_host_input_rules
apply_ipv6_rules
echo "clarateach-firewall: container egress and host input rules applied" >&2
