#!/bin/sh
# Entrypoint of the CloonixActors host image (run by tini): makes the container look like a host that
# scripts/setup.sh prepared, then runs cloonixd with the container's arguments.
#   - the cluster's shared secret: cloonixd reads STATE_DIR/secret at start and makes a random one only
#     when the file is missing, so every host of a cluster must be given the same file. It is copied from
#     $CLOONIX_SECRET_FILE (default /run/secrets/cloonix-secret, where compose puts its secret).
#   - the host's TLS certificates: every host of a cluster needs certificates of one authority (made with
#     `cloonix cert init` and `cloonix cert issue HOST`, see README.md). They are copied from the directory
#     $CLOONIX_TLS_SOURCE (default /run/cloonix-tls, where compose mounts tls/HOST) into STATE_DIR/tls,
#     mode 0600. Without them cloonixd makes an authority of its own: a cluster of this host alone.
#   - hugepages for OVS-DPDK (d nics): a hugetlbfs on /dev/hugepages of this container's own, unless one
#     is mounted there already. The pages come from the machine's pool (vm.nr_hugepages, set on the
#     machine that runs Docker); without free pages cloonixd runs the plain switch and refuses d nics.
set -eu

log() { echo "cloonix-host: $*" >&2; }

state_dir=${CLOONIX_STATE_DIR:-/var/lib/cloonix}
prev=
for a in "$@"; do
  [ "$prev" = --state-dir ] && state_dir=$a
  case $a in --state-dir=*) state_dir=${a#--state-dir=} ;; esac
  prev=$a
done
mkdir -p "$state_dir"

secret_file=${CLOONIX_SECRET_FILE:-/run/secrets/cloonix-secret}
if [ -f "$secret_file" ]; then
  install -m 0600 "$secret_file" "$state_dir/secret"
elif [ ! -f "$state_dir/secret" ]; then
  log "no $secret_file: cloonixd makes a random secret for this host alone (hosts of one cluster need the same one)"
fi

tls_source=${CLOONIX_TLS_SOURCE:-/run/cloonix-tls}
if [ -f "$tls_source/host.crt" ]; then
  install -d -m 0700 "$state_dir/tls"
  for f in ca.crt host.crt host.key client.crt client.key; do
    if [ -f "$tls_source/$f" ]; then
      install -m 0600 "$tls_source/$f" "$state_dir/tls/$f"
    fi
  done
elif [ ! -f "$state_dir/tls/host.crt" ]; then
  log "no $tls_source/host.crt: cloonixd makes a certificate authority for this host alone (hosts of one cluster need certificates of one authority)"
fi

if [ "$(stat -f -c %T /dev/hugepages 2>/dev/null || true)" != hugetlbfs ]; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages 2>/dev/null \
    || log "cannot mount hugetlbfs on /dev/hugepages (is the container privileged?): no d nics"
fi
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$free" -lt 66 ]; then
  log "only $free free 2 MiB hugepages (OVS-DPDK needs 66 or more): no d nics; on the Docker machine: sysctl vm.nr_hugepages=512"
fi

exec /usr/local/bin/cloonixd "$@"
