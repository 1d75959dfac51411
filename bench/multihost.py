#!/usr/bin/python3
"""Multi-host benchmark: three cloonixd hosts in network namespaces on one underlay bridge, one cluster,
one PostgreSQL journal (the local server, through its unix socket). Prints each figure beside its baseline
from the same run:

  - iperf3 TCP between two containers on one lan: on two hosts (VXLAN) against on one host;
  - deploy of one topology spread over the three hosts against the same topology on one host;
  - lan-coordinator fail-over after kill -9 of its host's daemon, against the failure detector and
    split-brain-resolver settings that bound it (the test timings of tests/.../MultiHostTests.cs).

    ./run bench            (or: /usr/bin/python3 bench/multihost.py)
Needs root, iperf3, and the PostgreSQL set-up of scripts/setup.sh.
"""
import json, os, secrets, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAEMON = os.path.join(ROOT, "src/cloonixd/bin/Release/net10.0/cloonixd")
CLI = os.path.join(ROOT, "src/cloonix/bin/Release/net10.0/cloonix")
JOURNAL = "Host=/var/run/postgresql;Database=cloonix;Username=cloonix;Password=cloonix"
PORT = 45300
HOCON = """
akka.cluster {
  seed-node-timeout = 2s
  retry-unsuccessful-join-after = 2s
  failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s }
  split-brain-resolver.stable-after = 3s
}
"""
NODES, LANS = 30, 15


def run(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args)}: {r.stderr.strip() or r.stdout.strip()}")
    return r


class Host:
    def __init__(self, i, tag, secret, cluster_id, authority):
        self.i, self.ns, self.address = i, f"cxt-{tag}-h{i}", f"198.18.100.{i}"
        self.name = f"b{tag}h{i}"
        self.state = tempfile.mkdtemp(prefix="cloonix-bench-mh-")
        with open(os.path.join(self.state, "secret"), "w") as f:
            f.write(secret + "\n")
        os.chmod(os.path.join(self.state, "secret"), 0o600)
        # A certificate of the cluster's one authority, as every host of a cluster needs.
        run(CLI, "--tls-dir", authority, "cert", "issue", self.name, "--out", os.path.join(self.state, "tls"))
        self.conf = os.path.join(self.state, "extra.conf")
        with open(self.conf, "w") as f:
            f.write(HOCON + f'cloonix.cluster-id = "{cluster_id}"\n')
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.ns}", "--", DAEMON, "--state-dir", self.state, "--name", self.name,
             "--bind", f"{self.address}:{PORT}", "--seed", f"198.18.100.1:{PORT}", "--seed", f"198.18.100.2:{PORT}",
             "--config", self.conf, "--persistence", "postgresql", "--connection-string", JOURNAL],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: self.cli("status", check=False).returncode == 0, 60, f"{self.name} to start")

    def cli(self, *args, check=True):
        r = subprocess.run(["nsenter", f"--net=/run/netns/{self.ns}", "--", CLI, "--contact", f"{self.address}:{PORT}",
                            "--state-dir", self.state, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit(f"bench: cloonix {' '.join(args)} on {self.name}: {r.stderr.strip()}")
        return r

    def json(self, *args):
        return json.loads(self.cli(*args, "--json").stdout)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        # Whatever a kill -9 left: the switch and the containers' namespaces, the OVS daemons.
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            pid = os.path.join(self.state, "ovs", daemon + ".pid")
            if os.path.exists(pid):
                subprocess.run(["kill", "-KILL", open(pid).read().strip()], capture_output=True)
        for ns in os.listdir("/run/netns"):
            if ns.startswith(f"cxa-{self.name}.") or ns == f"cxa.ovs.{self.name}":
                for pid in run("ip", "netns", "pids", ns, check=False).stdout.split():
                    subprocess.run(["kill", "-KILL", pid], capture_output=True)
                run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.state, ignore_errors=True)

    def live(self):
        r = self.cli("status", "--json", "--timeout", "10", check=False)
        if r.returncode != 0:
            return []
        return [h["name"] for h in json.loads(r.stdout).get("hosts") or [] if h["state"] == "live"]

    def coordinator(self):
        r = self.cli("status", "--json", "--timeout", "10", check=False)
        text = json.loads(r.stdout).get("coordinator", "") if r.returncode == 0 else ""
        return text.split(" ")[0] if " (akka" in text else ""


def wait(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: gave up waiting for {what}")
        time.sleep(0.1)


def iperf(h, client, server, address):
    h.cli("exec", server, "--", "iperf3", "-s", "-D", "-1")
    wait(lambda: ":5201" in h.cli("exec", server, "--", "ss", "-ltn").stdout, 10, "iperf3 to listen")
    out = h.cli("exec", client, "--", "iperf3", "-c", address, "-t", "5", "-J").stdout
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9


def topology(path):
    lines = ["lans: [" + ", ".join(f"ml{i}" for i in range(LANS)) + "]", "nodes:"]
    for k in range(NODES):
        lines.append(f"  - {{name: m{k}, kind: cnt, nics: 2, connect: [ml{k % LANS}, ml{(k + 1) % LANS}]}}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root")
    tag = secrets.token_hex(3)
    underlay = f"cxt-{tag}-ul"
    secret = secrets.token_hex(32)
    authority = tempfile.mkdtemp(prefix="cloonix-bench-ca-")
    os.rmdir(authority)
    run(CLI, "--tls-dir", authority, "cert", "init", "--name", "ca")
    hosts = [Host(i, tag, secret, f"bench{tag}", authority) for i in (1, 2, 3)]
    made = []
    try:
        run("ip", "netns", "add", underlay); made.append(underlay)
        run("ip", "-n", underlay, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", underlay, "link", "set", "br0", "up")
        for h in hosts:
            run("ip", "netns", "add", h.ns); made.append(h.ns)
            run("ip", "-n", underlay, "link", "add", f"uh{h.i}", "type", "veth", "peer", "name", "eth0", "netns", h.ns)
            run("ip", "-n", underlay, "link", "set", f"uh{h.i}", "master", "br0", "up")
            run("ip", "-n", h.ns, "link", "set", "lo", "up")
            run("ip", "-n", h.ns, "addr", "add", f"{h.address}/24", "dev", "eth0")
            run("ip", "-n", h.ns, "link", "set", "eth0", "up")
        for h in hosts:
            h.start()
        wait(lambda: len(hosts[0].live()) == 3, 90, "three live hosts")
        h1, h2, h3 = hosts

        # Throughput on one lan: same host against across hosts.
        h1.cli("add", "lan", "bl")
        for node, host, addr in (("t1", h1, "198.18.40.1/24"), ("t2", h1, "198.18.40.2/24"), ("t3", h2, "198.18.40.3/24")):
            h1.cli("add", "cnt", node, "--host", host.name)
            h1.cli("connect", node, "0", "bl")
            h1.cli("exec", node, "--", "ip", "addr", "add", addr, "dev", "eth0")
        wait(lambda: h1.cli("exec", "t1", "--", "ping", "-c", "1", "-W", "1", "198.18.40.3", check=False).returncode == 0, 30, "cross-host ping")
        same = iperf(h1, "t1", "t2", "198.18.40.2")
        cross = iperf(h1, "t1", "t3", "198.18.40.3")
        h1.cli("purge")

        # Deploy: one topology over three hosts against the same on one host.
        path = os.path.join(h1.state, "mh.yaml")
        topology(path)
        spread, single = [], []
        for _ in range(3):
            t = time.perf_counter(); h1.cli("deploy", path); spread.append(time.perf_counter() - t)
            placed = {n["host"] for n in h1.json("ls")["nodes"]}
            h1.cli("purge")
            t = time.perf_counter(); h1.cli("deploy", path, "--host", h1.name); single.append(time.perf_counter() - t)
            h1.cli("purge")

        # Fail-over: kill -9 of the coordinator's host.
        coordinator = h1.coordinator()
        victim = next(h for h in hosts if h.name == coordinator)
        other = next(h for h in hosts if h is not victim)
        victim.kill()
        t = time.perf_counter()
        wait(lambda: other.coordinator() not in ("", victim.name), 120, "the coordinator to move")
        failover = time.perf_counter() - t
        t = time.perf_counter()
        victim.start()
        wait(lambda: len(other.live()) == 3, 90, "the killed host to return")
        back = time.perf_counter() - t

        print(f"multi-host benchmark, 3 hosts as namespaces on one machine, PostgreSQL journal ({time.strftime('%Y-%m-%d')})")
        print()
        print("| iperf3 TCP, 5 s, one stream, two containers on one lan | Gbit/s |")
        print("|---|---|")
        print(f"| same host (baseline) | {same:.2f} |")
        print(f"| two hosts, VXLAN over the underlay (inner MTU 1450) | {cross:.2f} |")
        print(f"| cross-host / same-host | {cross / same:.2f} |")
        print()
        print(f"| deploy {NODES} containers, {LANS} lans, {2 * NODES} endpoints (median of 3, client start-up included) | s |")
        print("|---|---|")
        print(f"| all on one host of the cluster (baseline, --host) | {statistics.median(single):.2f} |")
        print(f"| spread over 3 hosts (least loaded placement, {len(placed)} hosts used) | {statistics.median(spread):.2f} |")
        print()
        print("| lan-coordinator after kill -9 of its host's daemon | s |")
        print("|---|---|")
        print("| bound (baseline): unreachable ~1-2 s (heartbeat pause 2 s) + SBR stable-after 3 s + down-removal margin 3 s | ~8 |")
        print(f"| coordinator answering on a survivor | {failover:.1f} |")
        print(f"| killed host restarted: live again, nodes from its journal | {back:.1f} |")
    finally:
        for h in reversed(hosts):
            h.stop()
        for ns in reversed(made):
            run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(authority, ignore_errors=True)


if __name__ == "__main__":
    main()
