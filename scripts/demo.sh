#!/usr/bin/env bash
# The demo lab on the embedded single-host default (SQLite journal in the state dir):
# two containers on one lan, then two VMs (the tiny image under QEMU) joined by a d lan (OVS-DPDK
# vhost-user), a v lan (taps) and an s lan (spyable: through the C# relay); pings and iperf3 on each; a
# capture of the s lan read back by tshark, the live counters, an impairment; then a clean stop.
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

step "two VMs joined by a d lan, a v lan and an s lan"
if cloonix status | grep -q 'd nics available'; then d=d; s=s; else d=v; s=v; echo "(this host cannot run OVS-DPDK: v nics stand in for d and s)"; fi
cloonix add lan lan-d
cloonix add lan lan-v
cloonix add lan lan-s
cloonix add vm vm1 --nics "$d,v,$s"
cloonix add vm vm2 --nics "$d,v,$s"
for vm in vm1 vm2; do
  cloonix connect "$vm" 0 lan-d
  cloonix connect "$vm" 1 lan-v
  cloonix connect "$vm" 2 lan-s
done
for i in 1 2; do
  cloonix exec "vm$i" -- ip addr add "198.18.10.$i/24" dev eth0
  cloonix exec "vm$i" -- ip addr add "198.18.11.$i/24" dev eth1
  cloonix exec "vm$i" -- ip addr add "198.18.12.$i/24" dev eth2
done
cloonix ls

step "the lab as a file (cloonix save -) and as a picture source (cloonix graph, Mermaid)"
cloonix save -
cloonix graph

for lan in d v s; do
  net=$(case "$lan" in d) echo 10;; v) echo 11;; s) echo 12;; esac)
  step "vm1 -> vm2 over lan-$lan"
  cloonix exec vm1 -- ping -c 3 "198.18.$net.2"
  cloonix exec vm2 -- iperf3 -s -D -1
  for _ in $(seq 1 50); do cloonix exec vm2 -- netstat -ltn | grep -q ':5201' && break; sleep 0.1; done
  cloonix exec vm1 -- iperf3 -c "198.18.$net.2" -t 3 -f g | grep -E 'sender|receiver'
done

if [ "$s" = s ]; then
  step "spy on vm1's s nic while it pings vm2: cloonix spy vm1 2 --pcap FILE (or --pcap - | wireshark -k -i -)"
  pcap="$state/vm1-eth2.pcap"
  cloonix spy vm1 2 --pcap "$pcap" --duration 4 &
  spy=$!
  sleep 1
  cloonix exec vm1 -- ping -c 4 -i 0.3 198.18.12.2 >/dev/null
  wait "$spy"
  echo "tshark -r $pcap:"
  tshark -r "$pcap" 2>/dev/null | head -12

  step "live counters of every s nic (cloonix events), while vm1 sends to vm2"
  cloonix exec vm2 -- iperf3 -s -D -1
  for _ in $(seq 1 50); do cloonix exec vm2 -- netstat -ltn | grep -q ':5201' && break; sleep 0.1; done
  cloonix exec vm1 -- iperf3 -c 198.18.12.2 -t 4 >/dev/null &
  traffic=$!
  cloonix events --count 6
  wait "$traffic"

  step "impair vm1's s nic: 25 ms of delay each way, then none"
  cloonix impair vm1 2 --delay 25
  cloonix exec vm1 -- ping -c 3 198.18.12.2 | tail -1
  cloonix impair vm1 2
  cloonix exec vm1 -- ping -c 3 198.18.12.2 | tail -1
fi
