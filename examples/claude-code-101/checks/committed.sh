#!/bin/sh
# Pass when the repository has a commit whose message is not the starter's 'initial'.
if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "This folder is not a git repository."
    exit 1
fi
subject=$(git log --format=%s 2>/dev/null | grep -vx "initial" | head -n 1)
if [ -n "$subject" ]; then
    echo "Committed: $subject"
    exit 0
fi
echo "No commit yet besides 'initial': commit your changes."
exit 1
