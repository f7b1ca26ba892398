"""firewall.sh against a recording iptables: the rules it leaves behind, in order, and the
same state after a second run (it runs on every Docker start)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO

FIREWALL = REPO / "shared" / "host_bootstrap" / "firewall.sh"

# A stand-in for iptables that keeps chains in a JSON file and implements the subset of the
# CLI the script uses: -w, -N, -F, -A, -I <chain> 1, -C. Unknown options fail loudly.
FAKE_IPTABLES = """#!{python}
import json, os, sys
state_path = os.environ["FAKE_IPTABLES_STATE"]
if os.path.basename(sys.argv[0]) == "ip6tables":
    state_path += ".v6"
chains = {{"INPUT": [], "FORWARD": []}}
if os.path.exists(state_path):
    chains = json.load(open(state_path))
args = [a for a in sys.argv[1:] if a != "-w"]
op, chain, rule = args[0], args[1], args[2:]
if op == "-N":
    if chain in chains:
        sys.exit(1)
    chains[chain] = []
elif op == "-F":
    chains[chain] = []
elif op == "-A":
    chains[chain].append(" ".join(rule))
elif op == "-I":
    assert rule[0] == "1", rule
    chains[chain].insert(0, " ".join(rule[1:]))
elif op == "-C":
    sys.exit(0 if " ".join(rule) in chains.get(chain, []) else 1)
else:
    sys.exit("unsupported iptables call: " + " ".join(sys.argv[1:]))
json.dump(chains, open(state_path, "w"))
"""


@pytest.fixture
def fake_path(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("iptables", "ip6tables"):
        fake = bin_dir / name
        fake.write_text(FAKE_IPTABLES.format(python=sys.executable))
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def run_firewall(bin_dir: Path, state: Path) -> dict[str, list[str]]:
    subprocess.run(
        ["bash", str(FIREWALL)],
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FAKE_IPTABLES_STATE": str(state),
        },
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(state.read_text())


def test_rules_block_metadata_and_private_ranges_and_admit_only_the_agent(
    fake_path: Path, tmp_path: Path
) -> None:
    chains = run_firewall(fake_path, tmp_path / "state.json")
    assert chains["DOCKER-USER"][0] == "-j CLARATEACH-EGRESS"
    egress = chains["CLARATEACH-EGRESS"]
    assert egress[:3] == [
        "-d 169.254.169.254/32 -p udp --dport 53 -j RETURN",
        "-d 169.254.169.254/32 -p tcp --dport 53 -j RETURN",
        "-d 169.254.169.254/32 -j REJECT --reject-with icmp-admin-prohibited",
    ]
    for bridge in ("docker0", "br-+"):
        for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"):
            rule = f"-i {bridge} -d {cidr} -j REJECT --reject-with icmp-admin-prohibited"
            assert rule in egress
    assert not [r for r in egress if "ACCEPT" in r]
    assert chains["CLARATEACH-SEATS-IN"] == [
        "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "-p tcp -d 172.17.0.1 --dport 8080 -j ACCEPT",
        "-j REJECT --reject-with icmp-admin-prohibited",
    ]
    assert sorted(chains["INPUT"]) == [
        "-i br-+ -j CLARATEACH-SEATS-IN",
        "-i docker0 -j CLARATEACH-SEATS-IN",
    ]
    # IPv6 from a seat bridge (link-local addresses exist even without IPv6 networks): none.
    v6 = json.loads((tmp_path / "state.json.v6").read_text())
    assert v6["CLARATEACH-SEATS-V6"] == ["-j REJECT --reject-with icmp6-adm-prohibited"]
    for chain in ("INPUT", "FORWARD"):
        assert sorted(v6[chain]) == [
            "-i br-+ -j CLARATEACH-SEATS-V6",
            "-i docker0 -j CLARATEACH-SEATS-V6",
        ]


def test_a_second_run_leaves_the_same_rules(fake_path: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = run_firewall(fake_path, state)
    first_v6 = json.loads(state.with_suffix(".json.v6").read_text())
    second = run_firewall(fake_path, state)
    assert second == first
    assert json.loads(state.with_suffix(".json.v6").read_text()) == first_v6
