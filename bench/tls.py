#!/usr/bin/python3
"""What mutual TLS on remoting costs the client: two single-host cloonixd daemons on loopback in the same
run, one on the defaults (TLS on) and one with akka.remote.dot-netty.tcp.enable-ssl = off (the client
with CLOONIX_TLS=off), one container each. Alternating between the two, it times:

  - `cloonix ls` as a whole process (start-up, connection, one round trip, shutdown), median of RUNS;
  - inside one client process (the hidden `cloonix rtt`): opening the connection, the first `ls`
    (association, TLS handshake, contact discovery), then `ls` and `exec c1 -- true` round trips on the
    open connection (medians).

    /usr/bin/python3 bench/tls.py [RUNS]      (root; cloonixd and cloonix built in Release)
"""
import json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAEMON = os.path.join(ROOT, "src/cloonixd/bin/Release/net10.0/cloonixd")
CLI = os.path.join(ROOT, "src/cloonix/bin/Release/net10.0/cloonix")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, tls):
        self.tls = tls
        self.state = tempfile.mkdtemp(prefix="cloonix-bench-tls-")
        self.name = "btls" + ("on" if tls else "off") + str(os.getpid() % 10000)
        self.port = free_port()
        self.env = dict(os.environ)
        args = [DAEMON, "--state-dir", self.state, "--name", self.name, "--bind", f"127.0.0.1:{self.port}"]
        if not tls:
            conf = os.path.join(self.state, "plain.conf")
            with open(conf, "w") as f:
                f.write("akka.remote.dot-netty.tcp.enable-ssl = off\n")
            args += ["--config", conf]
            self.env["CLOONIX_TLS"] = "off"
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._ready()
        except BaseException:
            self.stop()
            raise

    def _ready(self):
        deadline = time.time() + 90
        while self.cli("status").returncode != 0:
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"bench: cloonixd ({'TLS' if self.tls else 'plain'}) did not start")
            time.sleep(0.5)
        r = self.cli("add", "cnt", "c1")
        if r.returncode != 0:
            raise SystemExit(f"bench: add cnt: {r.stderr.strip()}")

    def cli(self, *args):
        return subprocess.run([CLI, "--contact", f"127.0.0.1:{self.port}", "--state-dir", self.state, *args],
                              capture_output=True, text=True, env=self.env)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.state, ignore_errors=True)


def main():
    daemons = []
    try:
        daemons.append(Daemon(True))
        daemons.append(Daemon(False))
        samples = {d.tls: {"process": [], "rtt": []} for d in daemons}
        for _ in range(RUNS):
            for d in daemons:
                t = time.perf_counter()
                r = d.cli("ls")
                if r.returncode != 0:
                    raise SystemExit(f"bench: ls: {r.stderr.strip()}")
                samples[d.tls]["process"].append((time.perf_counter() - t) * 1000)
                r = d.cli("rtt", "c1", "--count", "20")
                if r.returncode != 0:
                    raise SystemExit(f"bench: rtt: {r.stderr.strip()}")
                samples[d.tls]["rtt"].append(json.loads(r.stdout))

        def med(tls, key):
            return statistics.median(x[key] for x in samples[tls]["rtt"])

        rows = [("`cloonix ls`, whole process", statistics.median(samples[True]["process"]), statistics.median(samples[False]["process"]))]
        for key, label in [("runtimeMs", ".NET runtime start-up"), ("openMs", "open the connection (ActorSystem, certificates)"),
                           ("firstLsMs", "first ls (association, handshake, contacts)"), ("lsMs", "ls round trip"), ("execMs", "exec c1 -- true round trip")]:
            rows.append((label, med(True, key), med(False, key)))
        print(f"TLS cost, {RUNS} client processes each (medians, ms)")
        print(f"{'figure':50} {'TLS':>9} {'plain':>9} {'TLS - plain':>12}")
        for label, on, off in rows:
            print(f"{label:50} {on:9.1f} {off:9.1f} {on - off:+12.1f}")
    finally:
        for d in daemons:
            d.stop()


if __name__ == "__main__":
    main()
