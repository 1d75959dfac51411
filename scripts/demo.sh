#!/usr/bin/env bash
# The demo lab on the embedded single-host default (SQLite journal in the state dir):
# two containers on one lan, then two VMs (the tiny image under QEMU) joined by a d lan (OVS-DPDK
# vhost-user) and by a v lan (taps); pings and iperf3 throughput lines on each; then a clean stop.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=src/cloonixd/bin/Release/net10.0
cli_bin=src/cloonix/bin/Release/net10.0
state="${CLOONIX_DEMO_STATE:-/var/lib/cloonix-demo}"
port="${CLOONIX_DEMO_PORT:-45390}"
cloonix() { "$cli_bin/cloonix" --contact "127.0.0.1:$port" --state-dir "$state" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$state"
mkdir -p "$state"
"$bin/cloonixd" --state-dir "$state" --bind "127.0.0.1:$port" --name demo 2>"$state/stderr.log" &
daemon=$!
cleanup() {
  step "clean stop"
  cloonix purge || true
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  left=$(ip netns list | grep -c '^cxa-demo\.' || true)
  qemus=$(pgrep -c -f "$state/vms/" || true)
  echo "cloonixd stopped; namespaces left behind: $left; QEMU processes left behind: $qemus"
  rm -rf "$state"
}
trap cleanup EXIT

step "start cloonixd (state dir $state, journal $state/journal.db)"
for _ in $(seq 1 150); do
  if cloonix status >/dev/null 2>&1; then break; fi
  kill -0 "$daemon" 2>/dev/null || { cat "$state/stderr.log" >&2; exit 1; }
  sleep 0.2
done
cloonix status

step "two containers on lan lan1"
cloonix add lan lan1
cloonix add cnt c1 --nics 1
cloonix add cnt c2 --nics 1
cloonix connect c1 0 lan1
cloonix connect c2 0 lan1
cloonix exec c1 -- ip addr add 198.18.0.1/24 dev eth0
cloonix exec c2 -- ip addr add 198.18.0.2/24 dev eth0
cloonix ls

step "ping c1 -> c2"
cloonix exec c1 -- ping -c 3 -i 0.2 198.18.0.2

step "iperf3 TCP c1 -> c2 through the lan's OVS bridge"
cloonix exec c2 -- iperf3 -s -D -1
for _ in $(seq 1 50); do cloonix exec c2 -- ss -ltn | grep -q ':5201' && break; sleep 0.1; done
cloonix exec c1 -- iperf3 -c 198.18.0.2 -t 3 -f g | grep -E 'sender|receiver'

step "two VMs joined by a d lan and by a v lan"
if cloonix status | grep -q 'd nics available'; then d=d; else d=v; echo "(this host cannot run OVS-DPDK: both lans use v nics)"; fi
cloonix add lan lan-d
cloonix add lan lan-v
cloonix add vm vm1 --nics "$d,v"
cloonix add vm vm2 --nics "$d,v"
cloonix connect vm1 0 lan-d
cloonix connect vm2 0 lan-d
cloonix connect vm1 1 lan-v
cloonix connect vm2 1 lan-v
cloonix exec vm1 -- ip addr add 198.18.10.1/24 dev eth0
cloonix exec vm2 -- ip addr add 198.18.10.2/24 dev eth0
cloonix exec vm1 -- ip addr add 198.18.11.1/24 dev eth1
cloonix exec vm2 -- ip addr add 198.18.11.2/24 dev eth1
cloonix ls

for lan in d v; do
  net=$([ "$lan" = d ] && echo 10 || echo 11)
  step "vm1 -> vm2 over lan-$lan"
  cloonix exec vm1 -- ping -c 3 "198.18.$net.2"
  cloonix exec vm2 -- iperf3 -s -D -1
  for _ in $(seq 1 50); do cloonix exec vm2 -- netstat -ltn | grep -q ':5201' && break; sleep 0.1; done
  cloonix exec vm1 -- iperf3 -c "198.18.$net.2" -t 3 -f g | grep -E 'sender|receiver'
done
