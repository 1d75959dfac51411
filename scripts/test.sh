#!/usr/bin/env bash
# Runs every test: pure domain and actor tests, then integration tests on real Open vSwitch, namespaces
# and cloonixd/cloonix processes. Prints one closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"

# What a killed earlier run left: test hosts (cxt-*) and the namespaces of test daemons (cxa-it*). Only the
# tests' own prefixes: a user's lab on this machine (cxa-<host>.*) is never touched.
for ns in $(ip netns list | awk '{print $1}' | grep -E '^(cxt-|cxa-it[0-9a-f]{8}\.|cxa\.ovs\.it[0-9a-f]{8}$)' || true); do
  echo "test: removing namespace $ns left by an earlier run" >&2
  ip netns pids "$ns" | xargs -r kill -9 || true
  ip netns delete "$ns" || true
done

status=0
dotnet test CloonixActors.sln -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" || status=$?

# One summary over every test project, counted from the TRX files the runs wrote.
python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(c.get("passed")); failed += int(c.get("failed")) + int(c.get("error"))
    skipped += int(c.get("notExecuted"))
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY

# Nothing the tests made may outlive them.
left=$(ip netns list | grep -E '^(cxa|cxt)' || true)
if [ -n "$left" ]; then
  echo "test: namespaces left behind: $left" >&2
  status=1
fi
exit "$status"
