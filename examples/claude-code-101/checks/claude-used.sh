#!/bin/sh
# Pass once this seat has made at least one model request through the gateway.
# The agent gives checks CLARATEACH_SEAT_MODEL_REQUESTS (docs/content-packs.md).
count="${CLARATEACH_SEAT_MODEL_REQUESTS:-0}"
case "$count" in
    '' | *[!0-9]*) count=0 ;;
esac
if [ "$count" -gt 0 ]; then
    echo "Claude has answered $count request(s) in this seat."
    exit 0
fi
echo "No model requests from this seat yet: start 'claude' in the terminal and ask it something."
exit 1
