#!/bin/bash
# Run one simulated edge agent under the first free device identity of the fleet volume.
#
# `provision` writes FLEET/devices/<id>/edge.toml for each simulated device. Every replica of
# the compose `edge` service walks them in order and takes the first whose claim.lock it can
# flock; the lock stays held by the agent (fd 9 survives exec) and the kernel releases it when
# the container dies, so a restarted or rescaled replica picks up a free identity, and with
# it that device's buffer (kept next to its config). Never two agents with one identity.
set -euo pipefail
fleet="${FIELDLINK_FLEET_DIR:-/var/lib/fieldlink/fleet}"
shopt -s nullglob
for config in "$fleet"/devices/*/edge.toml; do
    exec 9>"$(dirname "$config")/claim.lock"
    if flock --nonblock 9; then
        echo "fleet-agent: running as $(basename "$(dirname "$config")")" >&2
        exec fieldlink edge run --config "$config" --simulate "$@"
    fi
    exec 9>&-
done
echo "fleet-agent: no free device identity in $fleet/devices: set FIELDLINK_SIM_DEVICES" \
     "to at least the number of edge replicas and run provision again" >&2
exit 1
