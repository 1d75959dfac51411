#!/usr/bin/python3
"""Throughput per nic type and VM boot time, in one run on one cloonixd (Release build).

iperf3 TCP for --seconds between two nodes on one lan, for each nic type:
  container veth (the baseline: no QEMU), v (tap, two VMs), d (OVS-DPDK vhost-user, two VMs);
and VM boot time: `cloonix add vm` (launch to guest agent answering), less the client's own start-up
(measured in the same run with `cloonix status`).

    ./run bench   (or: /usr/bin/python3 bench/nics.py --seconds 5)
"""
import argparse, json, os, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy import Cloonix  # noqa: E402


def iperf(lab, client, server, address, seconds):
    lab.cli("exec", server, "--", "iperf3", "-s", "-D", "-1")
    deadline = time.monotonic() + 10
    while ":5201" not in lab.cli("exec", server, "--", "sh", "-c", "ss -ltn 2>/dev/null || netstat -ltn", check=False).stdout:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: iperf3 server on {server} did not listen")
        time.sleep(0.1)
    out = lab.cli("exec", client, "--exec-timeout", str(seconds + 30), "--", "iperf3", "-c", address, "-t", str(seconds), "-J").stdout
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args()
    lab = Cloonix()
    try:
        status = lab.cli("status", "--json").stdout
        dpdk = "d nics available" in json.loads(status)["datapath"]
        accel = json.loads(status)["acceleration"]
        client = statistics.median(lab.timed("status") for _ in range(3))
        rows = []
        for kind, lan, nodes in [("veth", "lan-c", ["c1", "c2"]), ("v", "lan-v", ["v1", "v2"]), ("d", "lan-d", ["d1", "d2"]), ("s", "lan-s", ["s1", "s2"])]:
            if kind in ("d", "s") and not dpdk:
                rows.append((kind, None))
                continue
            lab.cli("add", "lan", lan)
            boots = []
            for i, node in enumerate(nodes):
                if kind == "veth":
                    lab.cli("add", "cnt", node)
                else:
                    boots.append(lab.timed("add", "vm", node, "--nics", kind) - client)
                lab.cli("connect", node, "0", lan)
                net = {"veth": 20, "v": 21, "d": 22, "s": 23}[kind]
                lab.cli("exec", node, "--", "ip", "addr", "add", f"198.18.{net}.{i + 1}/24", "dev", "eth0")
            lab.cli("exec", nodes[0], "--", "ping", "-c", "1", "-W", "5", f"198.18.{net}.2")
            rows.append((kind, iperf(lab, nodes[0], nodes[1], f"198.18.{net}.2", a.seconds), boots))
        print(f"nic benchmark: iperf3 TCP {a.seconds} s, one stream; {os.cpu_count()} cores; VMs: {accel}")
        print(f"{'nic type':28}{'Gbit/s':>8}{'VM boot s':>12}")
        names = {"veth": "container veth (baseline)", "v": "v  tap", "d": "d  OVS-DPDK vhost-user", "s": "s  C# relay, tap to the lan"}
        for row in rows:
            if row[1] is None:
                print(f"{names[row[0]]:28}{'n/a (no OVS-DPDK on this host)':>20}")
                continue
            boot = f"{statistics.median(row[2]):.1f}" if row[2] else "-"
            print(f"{names[row[0]]:28}{row[1]:>8.2f}{boot:>12}")
        print(f"(client start-up {client:.2f} s, subtracted from the boot times)")
        by_kind = {r[0]: r[1] for r in rows if r[1] is not None}
        if "s" in by_kind and "d" in by_kind:
            print(f"s / d throughput: {by_kind['s'] / by_kind['d'] * 100:.0f} % (goal: 50 % or more; cloonix: 6.5 %)")
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
