"""A fake ``docker`` CLI for tests: records argv and environment, keeps plausible state.

``install(bin_dir, log)`` writes an executable ``docker`` script (``set_pid`` sets what
``inspect -f {{.State.Pid}}`` prints for a container); every call appends
``{"argv": [...], "env": {...}}`` to ``log`` (JSON lines). ``exec -it`` runs ``cat`` so a
terminal attached through it echoes what is typed. ``exec -i`` (no TTY) runs the command
for real, on this machine, in the host directory bind-mounted at the container's
``/home/learner/work`` (stdin/stdout/exit status relayed, like ``docker exec -i``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = r"""#!{python}
import fcntl, json, os, sys
LOG, STATE = {log!r}, {state!r}
args = sys.argv[1:]
lock = open(STATE + ".lock", "w")
fcntl.flock(lock, fcntl.LOCK_EX)  # seats come up concurrently: serialise state updates
with open(LOG, "a") as f:
    env = {{k: v for k, v in os.environ.items() if k != "PATH"}}
    f.write(json.dumps({{"argv": args, "env": env}}) + "\n")
try:
    state = json.load(open(STATE))
except FileNotFoundError:
    state = {{"networks": [], "containers": [], "sessions": [], "mounts": {{}}}}
def save():
    json.dump(state, open(STATE, "w"))
cmd = args[0] if args else ""
if cmd == "network" and args[1] == "inspect":
    sys.exit(0 if args[2] in state["networks"] else 1)
if cmd == "network" and args[1] == "create":
    state["networks"].append(args[-1]); save(); sys.exit(0)
if cmd == "inspect":
    name = args[-1]
    if "{{{{.State.Pid}}}}" in args and name in state["containers"]:
        print(state.get("pids", {{}}).get(name, 0)); sys.exit(0)
    if name in state["containers"]:
        print("true"); sys.exit(0)
    print("Error: No such object: " + name, file=sys.stderr); sys.exit(1)
if cmd == "run":
    name = args[args.index("--name") + 1]
    state["containers"].append(name)
    for i, a in enumerate(args):
        if a == "-v" and args[i + 1].endswith(":/home/learner/work"):
            state.setdefault("mounts", {{}})[name] = args[i + 1].rsplit(":", 1)[0]
    save()
    print("f" * 64); sys.exit(0)
if cmd == "start":
    sys.exit(0)
if cmd == "exec":
    container = next(a for a in args[1:] if a.startswith("ct-"))
    if "-it" in args:
        lock.close()
        os.execvp("cat", ["cat"])
    if "-i" in args:
        lock.close()
        command = args[args.index(container) + 1:]
        os.chdir(state.get("mounts", {{}})[container])
        os.execvp(command[0], command)
    if "has-session" in args:
        sys.exit(0 if container in state["sessions"] else 1)
    if "new-session" in args:
        state["sessions"].append(container); save(); sys.exit(0)
    if "capture-pane" in args:
        sys.exit(0)
print("fake docker: unsupported " + " ".join(args), file=sys.stderr)
sys.exit(2)
"""


def install(bin_dir: Path, log: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "docker"
    state = bin_dir / "docker-state.json"
    path.write_text(SCRIPT.format(python=sys.executable, log=str(log), state=str(state)))
    path.chmod(0o755)
    return path


def set_pid(bin_dir: Path, container: str, pid: int) -> None:
    path = bin_dir / "docker-state.json"
    state = json.loads(path.read_text())
    state.setdefault("pids", {})[container] = pid
    path.write_text(json.dumps(state))


def calls(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]
