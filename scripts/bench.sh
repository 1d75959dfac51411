#!/usr/bin/env bash
# Benchmarks: each prints its figures beside its baseline, measured in the same invocation.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 bench/deploy.py "$@"
/usr/bin/python3 bench/nics.py
dotnet bench/RelayBench/bin/Release/net10.0/RelayBench.dll 5
# Packets/s through the relay beside dpdk-testpmd, 64- and 1518-byte frames, spy off and on; idle relay CPU.
dotnet bench/RelayBench/bin/Release/net10.0/RelayBench.dll pps 5
/usr/bin/python3 bench/multihost.py
# What mutual TLS costs a client: start-up, ls and exec round trips against a plaintext daemon, same run.
/usr/bin/python3 bench/tls.py 10
