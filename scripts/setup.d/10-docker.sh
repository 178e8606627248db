#!/usr/bin/env bash
# Docker Engine, debootstrap (offline base images) and tmux; start dockerd without systemd if nothing answers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v tmux >/dev/null || missing+=(tmux)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  # No bridge and no iptables: containers here run with --network none, and the host firewall stays untouched.
  nohup dockerd --iptables=false --bridge=none >/var/log/worldline-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up; see /var/log/worldline-dockerd.log" >&2; exit 1; }
fi
echo "docker engine $(docker version --format '{{.Server.Version}}') ready"
