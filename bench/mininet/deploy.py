#!/usr/bin/python3
"""Mininet peer benchmark: the shape "50 containers, 25 lans, 100 endpoints".

Run as root with Debian's python3 (mininet 2.3 lives in /usr/lib/python3/dist-packages):

    /usr/bin/python3 bench/mininet/deploy.py [--check] [--cleanup mn|scoped] [--keep-ovs]

Prints exactly one JSON line on stdout:
    {"build_s": ..., "stop_s": ..., "hosts": 50, "switches": 25, "links": 100}
Progress and diagnostics go to stderr.

Topology
--------
* switches s1..s25: OVSSwitch, datapath='user' (datapath_type=netdev, no kernel module needed),
  failMode='standalone' (plain L2 learning switch), no controller.
* hosts h1..h50 (0-based index k = 0..49), each with two interfaces:
    hK-eth0 -> switch s[(k % 25) + 1]        address 198.19.<lan>.<k+1>/24
    hK-eth1 -> switch s[((k + 1) % 25) + 1]  address 198.19.<lan>.<k+1>/24
  where <lan> = switch index - 1. Every switch therefore gets exactly 4 host ports
  (hosts k and k+25 on eth0, hosts k-1 and k+24 on eth1): 100 host links, no
  switch-to-switch links. Hosts do not forward or bridge, so the ring of switches that
  the hosts span is not an L2 loop. Only 198.18.0.0/15 addresses are used, and only inside
  the hosts' network namespaces.
* build_s = Mininet.build() + Mininet.start() (namespaces, veths, bridges, ports);
  stop_s = Mininet.stop().

System OVS
----------
Mininet talks to the *system* OVS at its default paths (/var/run/openvswitch/db.sock). If
ovsdb-server / ovs-vswitchd are not running there, this script starts them (creating
/etc/openvswitch/conf.db if missing) and stops them again at the end, removing the database
and run directory if it created them. OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR/OVS_SYSCONFDIR are
removed from the environment first so that neither this script nor Mininet (nor `mn -c`)
touches a private OVS instance whose socket lives elsewhere.

Cleanup on failure
------------------
Inside try/finally: on any failure, net.stop() is attempted and then a cleanup runs.
--cleanup scoped (default) is `mn -c` restricted to what this topology creates: bridges
s1..s25 of the system OVS, links hN-ethM / sN-ethM and the bridge taps sN, host shells
"mininet:hN". --cleanup mn runs mininet.clean.cleanup(), i.e. exactly `mn -c`; beware that
this deletes every bridge of the system OVS and every link named *-ethN, kills every process
named ping/controller/mnexec/... machine-wide and runs
`rm -f /tmp/*.log /tmp/*.out /tmp/vconn* /tmp/vlogs*` - unsafe next to other work.

Coexistence with a private OVS
------------------------------
A private OVS at another socket is never touched (environment scrubbed, explicit --db). But
two ovs-vswitchd processes with userspace (netdev) bridges cannot share one network
namespace: both need a tap named "ovs-netdev" (the second logs "ovs-netdev: creating tap
device failed: Device or resource busy" and none of its netdev bridges come up). Run the
private ovs-vswitchd in its own netns (`ip netns exec <ns> ovs-vswitchd ...`). This script
fails early with a clear message when another process in our netns holds "ovs-netdev"
(--wait-netdev SECONDS waits for it to go away first), and after start it checks that every
sN / sN-ethM interface got an ofport (the tap is created lazily, so another OVS can still
win the race; Mininet itself reports nothing in that case).

Measured (Debian 12, 2 cores, OVS 3.1, 8 runs): build_s 1.8-3.2, stop_s 3.8-4.4.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

# Never let an inherited private-OVS environment redirect Mininet's ovs-vsctl calls.
for _k in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR", "OVS_PKGDATADIR"):
    os.environ.pop(_k, None)

try:
    from mininet.net import Mininet
    from mininet.node import OVSSwitch
    from mininet.topo import Topo
    from mininet.log import setLogLevel
    import mininet.clean
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

N_HOSTS = 50
N_SWITCHES = 25
RUNDIR = "/var/run/openvswitch"
DB = "/etc/openvswitch/conf.db"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
DBSOCK = "unix:%s/db.sock" % RUNDIR


def log(msg):
    print("[deploy] " + msg, file=sys.stderr, flush=True)


def run(*cmd, check=True, timeout=30):
    r = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


def ok(*cmd, timeout=5):
    try:
        return run(*cmd, check=False, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def pid_alive(pidfile):
    try:
        pid = int(open(pidfile).read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def ovs_netdev_holders():
    """Pids in our network namespace with a tun fd attached to 'ovs-netdev' (a leftover,
    unattached tap from a killed ovs-vswitchd is fine: a new one re-attaches to it)."""
    if not os.path.exists("/sys/class/net/ovs-netdev"):
        return []
    me = os.readlink("/proc/self/ns/net")
    pids = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/ns/net" % p) != me:
                continue
            for fd in os.listdir("/proc/%s/fdinfo" % p):
                with open("/proc/%s/fdinfo/%s" % (p, fd)) as f:
                    if "iff:\tovs-netdev\n" in f.read():
                        pids.append(int(p))
                        break
        except OSError:
            continue
    return pids


def ovs_netdev_holders_other():
    own = pid_alive(RUNDIR + "/ovs-vswitchd.pid")
    return [p for p in ovs_netdev_holders() if p != own]


class SystemOvs:
    """Starts the system OVS at its default paths if needed; stops only what it started."""

    def __init__(self):
        self.started_db = self.started_vswitchd = False
        self.created_db = self.created_rundir = False
        self.db_target = None

    def db_up(self):
        return ok("ovs-vsctl", "--db=" + DBSOCK, "--timeout=2", "show")

    def vswitchd_up(self):
        return (pid_alive(RUNDIR + "/ovs-vswitchd.pid") is not None
                and ok("ovs-appctl", "--timeout=2", "-t", "ovs-vswitchd", "version"))

    def start(self, wait_netdev=0.0):
        end = time.time() + wait_netdev
        while ovs_netdev_holders_other() and time.time() < end:
            time.sleep(1)
        if not self.db_up():
            if not os.path.isdir(RUNDIR):
                os.makedirs(RUNDIR)
                self.created_rundir = True
            # /etc/openvswitch/conf.db may be a dangling symlink (Debian: -> /var/lib/openvswitch)
            if not os.path.exists(DB):
                self.db_target = os.path.realpath(DB)
                os.makedirs(os.path.dirname(self.db_target), exist_ok=True)
                run("ovsdb-tool", "create", DB, SCHEMA)
                self.created_db = True
            run("ovsdb-server", DB, "--remote=punix:%s/db.sock" % RUNDIR,
                "--pidfile", "--detach")
            self.started_db = True
            run("ovs-vsctl", "--db=" + DBSOCK, "--no-wait", "init")
            log("started ovsdb-server (created db: %s)" % self.created_db)
        if not self.vswitchd_up():
            run("ovs-vswitchd", DBSOCK, "--pidfile", "--detach")
            self.started_vswitchd = True
            log("started ovs-vswitchd")
        holders = ovs_netdev_holders_other()
        if holders:
            raise RuntimeError(
                "pid(s) %s (not the system ovs-vswitchd) hold the tap 'ovs-netdev' in this network "
                "namespace: two ovs-vswitchd with userspace bridges cannot share a netns, the "
                "system OVS cannot create its netdev datapath. Run the other OVS in its own netns "
                "or stop it." % holders)

    def _wait_gone(self, pid, secs=5.0):
        end = time.time() + secs
        while time.time() < end:
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.started_vswitchd:
            pid = pid_alive(RUNDIR + "/ovs-vswitchd.pid")
            ok("ovs-appctl", "-t", "ovs-vswitchd", "exit", "--cleanup")
            if pid and not self._wait_gone(pid):
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid)
            log("stopped ovs-vswitchd")
        if self.started_db:
            pid = pid_alive(RUNDIR + "/ovsdb-server.pid")
            ok("ovs-appctl", "-t", "ovsdb-server", "exit")
            if pid and not self._wait_gone(pid):
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid)
            log("stopped ovsdb-server")
        if self.created_db:
            target = self.db_target or DB
            d, b = os.path.split(target)
            for f in (target, os.path.join(d, "." + b + ".~lock~")):
                if os.path.lexists(f) and not os.path.islink(f):
                    os.remove(f)
        if self.created_rundir:
            for f in os.listdir(RUNDIR):
                try:
                    os.remove(os.path.join(RUNDIR, f))
                except OSError:
                    pass
            try:
                os.rmdir(RUNDIR)
            except OSError:
                pass


class UserStandaloneOVS(OVSSwitch):
    """OVSSwitch with the userspace datapath (netdev) in standalone (L2 learning) mode."""

    def __init__(self, name, **params):
        params.setdefault("datapath", "user")
        params.setdefault("failMode", "standalone")
        super().__init__(name, **params)


class FiftyOnTwentyFive(Topo):
    """50 hosts x 2 nics over 25 lans (4 endpoints per lan); see module docstring."""

    def build(self):
        sw = [self.addSwitch("s%d" % (j + 1), dpid="%016x" % (j + 1)) for j in range(N_SWITCHES)]
        for k in range(N_HOSTS):
            h = self.addHost("h%d" % (k + 1), ip=None)
            for lan in (k % N_SWITCHES, (k + 1) % N_SWITCHES):
                self.addLink(h, sw[lan], params1={"ip": "198.19.%d.%d/24" % (lan, k + 1)})


ICMP_PROBE = r'''
import socket,struct,sys,os
def cs(b):
    s=sum(struct.unpack("!%dH"%(len(b)//2),b));s=(s>>16)+(s&0xffff);s+=s>>16;return ~s&0xffff
s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP);s.settimeout(2)
p=b"mnprobe!"*4;h=struct.pack("!BBHHH",8,0,0,7,1);s.sendto(struct.pack("!BBHHH",8,0,cs(h+p),7,1)+p,(sys.argv[1],0))
while True:
    d,a=s.recvfrom(2048)
    if a[0]==sys.argv[1] and d[(d[0]&15)*4]==0: print("OK");break
'''


def check(net):
    """ICMP between endpoints of lan 0 (s1): h1-eth0, h26-eth0, h25-eth1 (ping is not installed)."""
    h1 = net.get("h1")
    res = {}
    for dst in ("198.19.0.26", "198.19.0.25"):
        out = h1.cmd("python3 -c '%s' %s" % (ICMP_PROBE.replace("'", "'\\''"), dst))
        res[dst] = "OK" in out
    log("check h1 -> %s" % res)
    return all(res.values())


def verify_ports():
    """Every Interface of our bridges (sN, sN-ethM) must have a real ofport (not [] or -1):
    a failed netdev datapath leaves ofport empty without any error from Mininet."""
    r = run("ovs-vsctl", "--db=" + DBSOCK, "--bare", "--columns=name,ofport,error",
            "--format=csv", "--data=bare", "list", "Interface")
    bad = [l for l in r.stdout.splitlines()
           if re.match(r"^s\d+(-eth\d+)?,", l) and not re.match(r"^[^,]*,[1-9][0-9]*,", l)]
    if bad:
        raise RuntimeError("%d OVS interfaces not in the datapath, e.g. %s" % (len(bad), bad[:3]))


def scoped_cleanup():
    names = " -- ".join("--if-exists del-br s%d" % (j + 1) for j in range(N_SWITCHES))
    ok("/bin/sh", "-c", "ovs-vsctl --db=%s --timeout=5 %s" % (DBSOCK, names), timeout=10)
    links = run("ip", "-o", "link", "show", check=False).stdout
    for name in set(re.findall(r"^\d+: ([hs]\d+-eth\d+)[@:]", links, re.M)):
        ok("ip", "link", "del", name)
    for j in range(N_SWITCHES):
        ok("ip", "link", "del", "s%d" % (j + 1))
    ok("pkill", "-9", "-f", r"mininet:h[0-9]+$")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="ICMP check on one lan before stopping")
    ap.add_argument("--cleanup", choices=("scoped", "mn"), default="scoped",
                    help="cleanup on failure: scoped = only what this script made (default), "
                         "mn = exactly `mn -c` (machine-wide, see docstring)")
    ap.add_argument("--wait-netdev", type=float, default=0.0, metavar="SECONDS",
                    help="wait up to SECONDS for another root-netns userspace OVS to release "
                         "the 'ovs-netdev' tap before starting (default 0: fail at once)")
    ap.add_argument("--keep-ovs", action="store_true", help="leave a system OVS we started running")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("deploy.py must run as root")
    setLogLevel("info" if args.verbose else "warning")

    def on_signal(signum, _frame):
        log("got signal %d" % signum)
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    ovs = SystemOvs()
    net = None
    stopped = False
    result = None
    try:
        ovs.start(args.wait_netdev)
        net = Mininet(topo=FiftyOnTwentyFive(), switch=UserStandaloneOVS, controller=None,
                      build=False, autoSetMacs=True, waitConnected=False)
        t0 = time.monotonic()
        net.build()
        net.start()
        build_s = time.monotonic() - t0
        verify_ports()
        n_links = len(net.links)
        n_hosts, n_switches = len(net.hosts), len(net.switches)
        if args.check and not check(net):
            raise RuntimeError("connectivity check failed")
        t1 = time.monotonic()
        net.stop()
        stopped = True
        stop_s = time.monotonic() - t1
        result = {"build_s": round(build_s, 3), "stop_s": round(stop_s, 3),
                  "hosts": n_hosts, "switches": n_switches, "links": n_links}
    finally:
        if result is None:
            log("failure: cleaning up (%s)" % args.cleanup)
            if net is not None and not stopped:
                try:
                    net.stop()
                except Exception as e:  # noqa: BLE001 - best effort
                    log("net.stop failed: %r" % e)
            try:
                if args.cleanup == "mn":
                    mininet.clean.cleanup()
                else:
                    scoped_cleanup()
            except Exception as e:  # noqa: BLE001
                log("cleanup failed: %r" % e)
        if not args.keep_ovs:
            ovs.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
