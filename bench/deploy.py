#!/usr/bin/python3
"""Deploy benchmark: CloonixActors against Mininet, same shape, same machine, one invocation.

Shape (as bench/mininet/deploy.py): 50 containers/hosts, 25 lans/switches, 100 endpoints/links;
node k has nic 0 on lan k%25 and nic 1 on lan (k+1)%25.

CloonixActors: one `cloonix deploy FILE` (the client process's own start-up included) and one
`cloonix purge`, against a cloonixd started once (Release build). Mininet: build()+start() and stop()
as bench/mininet/deploy.py times them (its Python start-up not included). Median of --rounds runs each.

    ./run bench            (or: /usr/bin/python3 bench/deploy.py --rounds 3)
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAEMON = os.path.join(ROOT, "src/cloonixd/bin/Release/net10.0/cloonixd")
CLI = os.path.join(ROOT, "src/cloonix/bin/Release/net10.0/cloonix")
NODES, LANS = 50, 25


def topology_yaml():
    lines = ["lans: [" + ", ".join(f"lan{i}" for i in range(LANS)) + "]", "nodes:"]
    for k in range(NODES):
        lines.append(f"  - {{name: c{k}, kind: cnt, nics: 2, connect: [lan{k % LANS}, lan{(k + 1) % LANS}]}}")
    return "\n".join(lines) + "\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cloonix:
    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="cloonix-bench-")
        self.port = free_port()
        self.log = open(os.path.join(self.state, "stderr.log"), "w")
        self.proc = subprocess.Popen([DAEMON, "--state-dir", self.state, "--name", "bench", "--bind", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while self.cli("status", check=False).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("bench: cloonixd did not start; see " + self.log.name)
            time.sleep(0.2)

    def cli(self, *args, check=True):
        r = subprocess.run([CLI, "--contact", f"127.0.0.1:{self.port}", "--state-dir", self.state, *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit(f"bench: cloonix {' '.join(args)}: {r.stderr.strip()}")
        return r

    def timed(self, *args):
        t = time.perf_counter()
        self.cli(*args)
        return time.perf_counter() - t

    def close(self):
        self.cli("purge", check=False)
        self.proc.terminate()
        self.proc.wait(timeout=90)
        shutil.rmtree(self.state, ignore_errors=True)


def run_cloonix(rounds):
    lab = Cloonix()
    try:
        topo = os.path.join(lab.state, "bench.yaml")
        with open(topo, "w") as f:
            f.write(topology_yaml())
        builds, stops = [], []
        for _ in range(rounds):
            builds.append(lab.timed("deploy", topo))
            # Not timed: prove the lab really passes traffic (c0 eth1 and c1 eth0 share lan1).
            lab.cli("exec", "c0", "--", "ip", "addr", "add", "198.18.1.1/24", "dev", "eth1")
            lab.cli("exec", "c1", "--", "ip", "addr", "add", "198.18.1.2/24", "dev", "eth0")
            lab.cli("exec", "c0", "--", "ping", "-c", "1", "-W", "2", "198.18.1.2")
            stops.append(lab.timed("purge"))
        return builds, stops
    finally:
        lab.close()


def run_mininet(rounds):
    builds, stops = [], []
    for _ in range(rounds):
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench/mininet/deploy.py"), "--wait-netdev", "30"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("bench: mininet run failed:\n" + r.stderr[-2000:])
        d = json.loads(r.stdout.strip().splitlines()[-1])
        builds.append(d["build_s"])
        stops.append(d["stop_s"])
    return builds, stops


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    cb, cs = run_cloonix(a.rounds)
    mb, ms = run_mininet(a.rounds)
    med = statistics.median
    print(f"deploy benchmark: {NODES} nodes, {LANS} lans, {2 * NODES} endpoints; median of {a.rounds} rounds "
          f"({os.cpu_count()} cores, {os.uname().release})")
    print(f"{'':24}{'deploy s':>10}{'teardown s':>12}{'total s':>10}")
    print(f"{'CloonixActors':24}{med(cb):>10.2f}{med(cs):>12.2f}{med(cb) + med(cs):>10.2f}")
    print(f"{'Mininet 2.3 (user OVS)':24}{med(mb):>10.2f}{med(ms):>12.2f}{med(mb) + med(ms):>10.2f}")
    print(f"{'Mininet / CloonixActors':24}{med(mb) / med(cb):>9.1f}x{med(ms) / med(cs):>11.1f}x"
          f"{(med(mb) + med(ms)) / (med(cb) + med(cs)):>9.1f}x")
    print("runs: cloonix deploy " + " ".join(f"{x:.2f}" for x in cb) + " | purge " + " ".join(f"{x:.2f}" for x in cs)
          + " | mininet build " + " ".join(f"{x:.2f}" for x in mb) + " | stop " + " ".join(f"{x:.2f}" for x in ms))


if __name__ == "__main__":
    sys.exit(main())
