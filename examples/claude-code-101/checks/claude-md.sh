#!/bin/sh
# Pass when CLAUDE.md exists at the workspace root and mentions the test command.
if [ ! -f CLAUDE.md ]; then
    echo "There is no CLAUDE.md in the project root yet."
    exit 1
fi
if grep -q "unittest" CLAUDE.md; then
    echo "CLAUDE.md is there and says how to run the tests."
    exit 0
fi
echo "CLAUDE.md exists but does not mention the test command (python3 -m unittest)."
exit 1
