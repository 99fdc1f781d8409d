#!/usr/bin/env bash
# make ha, second part: tests/ha/ha.sh, then a fail-back under the same load (HA_FAILBACK=1):
# the crashed primary rewound with pg_rewind into a synchronous standby of the promoted one,
# the promoted one stopped, the old primary promoted again. The same checks, against it.
HA_FAILBACK=1 exec bash "$(dirname "$0")/ha.sh" "$@"
