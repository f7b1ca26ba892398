"""Content packs written into a test directory (agent and browser tests).

``write_pack(root, steps=..., starter=..., checks=..., guides=...)`` lays out a pack the way
docs/content-packs.md describes it; ``TEST_PACK`` is the default: starter files, a check that
passes, one that fails, one that outlives its timeout, one that prints 1 MiB, one that
reports its environment.
"""

from __future__ import annotations

from pathlib import Path

SLOW_MARKER = "987654"  # `sleep 987654` is how a test finds the timed-out check's process

STARTER: dict[str, str] = {
    "hello.txt": "hello from the pack\n",
    "src/app.py": "print('app')\n",
    "bin/run.sh": "#!/bin/sh\necho running\n",
}

CHECKS: dict[str, str] = {
    "pass.sh": '#!/bin/sh\n[ -f hello.txt ] || { echo "no hello.txt"; exit 1; }\n'
    'echo "hello.txt is there in $(pwd)"\n',
    "fail.sh": '#!/bin/sh\necho "not yet: write answer.txt" >&2\nexit 3\n',
    "slow.sh": f"#!/bin/sh\necho started\nsleep {SLOW_MARKER}\necho never\n",
    "loud.sh": "#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' x\necho\necho THE-END\n",
    "env.sh": '#!/bin/sh\necho "requests=$CLARATEACH_SEAT_MODEL_REQUESTS step=$CLARATEACH_STEP"\n'
    'echo "whoami=$(id -u)"\nls /etc/hostname >/dev/null && echo "ok"\n',
}

STEPS: list[dict[str, object]] = [
    {"id": "one", "title": "First step", "check": "checks/pass.sh"},
    {"id": "two", "title": "Second step", "check": "checks/fail.sh"},
    {"id": "slow", "title": "Slow step", "check": "checks/slow.sh", "check_timeout_s": 1},
    {"id": "loud", "title": "Loud step", "check": "checks/loud.sh"},
    {"id": "env", "title": "Env step", "check": "checks/env.sh"},
    {"id": "read", "title": "Reading only"},
]


def write_pack(
    root: Path,
    *,
    steps: list[dict[str, object]] | None = None,
    starter: dict[str, str] | None = None,
    checks: dict[str, str] | None = None,
    guides: dict[int, str] | None = None,
    git_commit: str | None = None,
    title: str = "Test pack",
) -> Path:
    steps = STEPS if steps is None else steps
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"title = {title!r}".replace("'", '"')]
    if git_commit is not None:
        lines += ["[starter]", f'git_commit = "{git_commit}"']
    for i, step in enumerate(steps, start=1):
        lines.append("[[steps]]")
        lines.append(f'id = "{step["id"]}"')
        lines.append(f'title = "{step["title"]}"')
        lines.append(f'guide = "guide/{i:02d}-{step["id"]}.md"')
        if "check" in step:
            lines.append(f'check = "{step["check"]}"')
        if "check_timeout_s" in step:
            lines.append(f"check_timeout_s = {step['check_timeout_s']}")
        page = (guides or {}).get(i - 1, f"# {step['title']}\n\nDo step {i}.\n")
        _write(root / "guide" / f"{i:02d}-{step['id']}.md", page)
    _write(root / "workshop.toml", "\n".join(lines) + "\n")
    for rel, text in (STARTER if starter is None else starter).items():
        _write(root / "starter" / rel, text, executable=rel.endswith(".sh"))
    for rel, text in (CHECKS if checks is None else checks).items():
        _write(root / "checks" / rel, text, executable=True)
    return root


def _write(path: Path, text: str, *, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755 if executable else 0o644)
