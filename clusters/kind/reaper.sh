#!/bin/bash
# Aftershock's reaper: started detached next to a run, it waits for the run's process to exit and then
# removes every container, volume and network labelled with the run's id. A run that ends normally kills
# the reaper after its own cleanup; a run killed with SIGKILL is cleaned up here. Waiting is bounded by
# MAX_SECONDS; removal is retried for up to 5 minutes, because a node whose processes are stuck in the
# kernel (throttled I/O) can take a minute to die and `docker rm -f` gives up on it sooner.
set -u
run_id=$1 owner=$2 docker_bin=$3 max_seconds=${4:-86400}
deadline=$((SECONDS + max_seconds))
while kill -0 "$owner" 2>/dev/null && ((SECONDS < deadline)); do sleep 1; done
filter=(--filter "label=aftershock.run=${run_id}")
give_up=$((SECONDS + 300))
while :; do
  ids=$("$docker_bin" ps -aq "${filter[@]}")
  [[ -n $ids ]] && "$docker_bin" rm -f -v $ids >/dev/null 2>&1
  nets=$("$docker_bin" network ls -q "${filter[@]}")
  [[ -n $nets ]] && "$docker_bin" network rm $nets >/dev/null 2>&1
  vols=$("$docker_bin" volume ls -q "${filter[@]}")
  [[ -n $vols ]] && "$docker_bin" volume rm -f $vols >/dev/null 2>&1
  [[ -z $ids && -z $nets && -z $vols ]] && break
  ((SECONDS >= give_up)) && break
  sleep 5
done
exit 0
