#!/usr/bin/env bash
# Installs what CloonixActors needs on a fresh Debian 12 machine, then builds it. Idempotent: a second run
# installs nothing and only rebuilds what changed. Must run as root (it installs packages and the daemon
# manages namespaces and Open vSwitch).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (packages, namespaces and Open vSwitch need it)" >&2
  exit 1
fi

packages=(
  openvswitch-switch   # ovsdb-server, ovs-vswitchd, ovs-vsctl (cloonixd runs its own private instance)
  openvswitch-switch-dpdk librte-mempool-ring23 librte-net-virtio23 librte-net-vhost23   # d nics (OVS-DPDK and its driver plugins)
  dpdk-dev             # dpdk-testpmd: the packet generator and the reference forwarder of the relay benchmark
  iproute2 ethtool     # namespaces, veths, offloads
  iputils-ping iperf3  # traffic checks in tests and the demo
  tshark tcpdump       # reading captures back
  mininet              # the peer the deploy benchmark compares against
  qemu-system-x86 qemu-utils   # VMs (TCG where KVM does not really work)
  postgresql           # the multi-host journal; tests run cloonixd against a real server
  procps psmisc sqlite3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The system's own Open vSwitch service is never used: cloonixd starts a private one per host.
# Installing the DPDK build registers it as an alternative of lower priority: cloonixd names its binary itself.

# 2 MiB hugepages for OVS-DPDK (d nics): about 32 per vhost-user port plus a few; never lowered here.
want_pages="${CLOONIX_HUGEPAGES:-512}"
have_pages=$(cat /proc/sys/vm/nr_hugepages)
if [ "$have_pages" -lt "$want_pages" ]; then
  echo "$want_pages" > /proc/sys/vm/nr_hugepages || echo "setup: could not reserve hugepages: d nics will be unavailable" >&2
fi
if ! command -v dotnet >/dev/null; then
  echo "setup: the .NET SDK (dotnet) is not on PATH" >&2
  exit 1
fi

# PostgreSQL for the tests (and for several hosts on one machine): the Debian cluster, started without
# systemd, with a role and database "cloonix" that only local TCP connections reach.
if command -v pg_lsclusters >/dev/null; then
  if [ -z "$(pg_lsclusters --no-header)" ]; then
    pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main >&2
  fi
  read -r pg_version pg_cluster _ < <(pg_lsclusters --no-header | head -n 1) || true
  if [ -n "${pg_version:-}" ]; then
    pg_ctlcluster "$pg_version" "$pg_cluster" status >/dev/null 2>&1 || pg_ctlcluster "$pg_version" "$pg_cluster" start
    runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cloonix') THEN CREATE ROLE cloonix LOGIN PASSWORD 'cloonix'; END IF; END \$\$;" >&2
    runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'cloonix'" | grep -q 1 \
      || runuser -u postgres -- createdb -O cloonix cloonix >&2
    # Test hosts in network namespaces reach the server through its unix socket (127.0.0.1 there is their
    # own): the cloonix role may log in with its password on the socket, to the cloonix database only.
    pg_hba="$(runuser -u postgres -- psql -tAc 'SHOW hba_file')"
    if ! grep -Eq '^local[[:space:]]+cloonix[[:space:]]+cloonix[[:space:]]' "$pg_hba"; then
      sed -i '0,/^local/s//local   cloonix         cloonix                                 scram-sha-256\n&/' "$pg_hba"
      runuser -u postgres -- psql -q -c 'SELECT pg_reload_conf()' >/dev/null
    fi
  fi
fi

echo "setup: building" >&2
dotnet build CloonixActors.sln -c Release -nologo -clp:ErrorsOnly -v:q >&2

# The tiny guest image every VM test and the demo boot (what `cloonix image build tiny` runs too).
bash images/tiny/build.sh "${CLOONIX_IMAGES_DIR:-/var/lib/cloonix/images}/tiny" >&2
