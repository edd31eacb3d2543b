#!/bin/bash
# Aftershock runs kind with this script first on PATH as "docker". It passes every command through to the
# real docker CLI, and adds Aftershock's run labels to what kind creates: node and load-balancer containers
# (docker run), the node's /var volume (turned from an anonymous --volume into a labelled --mount), and the
# cluster's network (docker network create). That is how gc and the reaper find a run's leftovers.
# AFTERSHOCK_IMAGE_ALIAS="<name>=<image>" runs <image> where kind's `docker run` names <name>: kind's load
# balancer image is compiled into kind under an upstream name (docker.io/envoyproxy/envoy:…), which Aftershock
# leaves to the user; its own balancer lives in the host's Docker as aftershock.local/kind-lb/….
set -euo pipefail
real=${AFTERSHOCK_REAL_DOCKER:?AFTERSHOCK_REAL_DOCKER is not set}
if [[ -z ${AFTERSHOCK_RUN_ID:-} ]]; then exec "$real" "$@"; fi
labels=(
  --label "aftershock.managed=cluster"
  --label "aftershock.run=${AFTERSHOCK_RUN_ID}"
  --label "aftershock.owner-pid=${AFTERSHOCK_OWNER_PID:-0}"
  --label "aftershock.keep=${AFTERSHOCK_KEEP:-false}"
)
if [[ ${1:-} == run ]]; then
  shift
  args=()
  while (($#)); do
    if [[ -n ${AFTERSHOCK_IMAGE_ALIAS:-} && $1 == "${AFTERSHOCK_IMAGE_ALIAS%%=*}" ]]; then
      args+=("${AFTERSHOCK_IMAGE_ALIAS#*=}")
      shift
      continue
    fi
    if [[ $1 == --volume && ${2:-} == /var ]]; then
      args+=(--mount "type=volume,dst=/var,volume-label=aftershock.run=${AFTERSHOCK_RUN_ID},volume-label=aftershock.managed=cluster")
      shift 2
      continue
    fi
    args+=("$1")
    shift
  done
  exec "$real" run "${labels[@]}" "${args[@]}"
fi
if [[ ${1:-} == network && ${2:-} == create ]]; then
  shift 2
  exec "$real" network create "${labels[@]}" "$@"
fi
exec "$real" "$@"
