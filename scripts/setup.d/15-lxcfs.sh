#!/usr/bin/env bash
# lxcfs: serves /proc/meminfo, loadavg, cpuinfo... computed from a container's own cgroups, which the Docker
# sandboxes bind over the host's (sandboxes/proc_view.py), so `free`/`top`/`uptime` in a sandbox show the sandbox.
# Without it (no FUSE here) sandboxes keep the host's view and record `proc_view: host`.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
command -v lxcfs >/dev/null || apt-get install -y -qq lxcfs >/dev/null
root=/var/lib/lxcfs
if ! head -c1 "$root/proc/meminfo" >/dev/null 2>&1; then
  umount -l "$root" 2>/dev/null || true  # a daemon that died leaves its mount answering ENOTCONN
  # A daemon that serves nothing here, or one still exiting, holds /run/lxcfs.pid's lock: a new one would quit at
  # once ("PID file '/run/lxcfs.pid' is already locked").
  for _ in $(seq 1 20); do
    pgrep -x lxcfs >/dev/null || break
    pkill -x lxcfs || true
    sleep 0.5
  done
  mkdir -p "$root"
  # -l: each container's own load average; --enable-cfs: CPUs as its CPU quota allows.
  nohup lxcfs -l --enable-cfs "$root" >/var/log/worldline-lxcfs.log 2>&1 &
  for _ in $(seq 1 20); do
    head -c1 "$root/proc/meminfo" >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
if head -c1 "$root/proc/meminfo" >/dev/null 2>&1; then
  echo "lxcfs ready at $root"
else
  echo "warning: lxcfs did not start (see /var/log/worldline-lxcfs.log); sandboxes will show the host's /proc" >&2
fi
