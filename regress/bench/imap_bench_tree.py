#!/usr/bin/env python3
"""Run ../shared/peers/imap/imap-bench.py with its idle phase counting the
memory of the server's whole process tree.

    imap_bench_tree.py BENCH_PY [imap-bench.py arguments, --server-pid PID]

imap-bench.py sums Pss and VmRSS over the processes that hold the server
side of its TCP sockets.  That is right for Dovecot (the imap process per
connection holds it) but not for tsamba-imapd, whose login process keeps
every client socket (it owns the TLS state) and relays to one mail process
per session over a socketpair: there the sum would be the login process
alone.  So the holders are joined by every process of the tree rooted at
--server-pid, for both servers alike, and pss_per_conn_kb becomes the
marginal growth of the whole server per idle connection.

It also adds the CPU time the server's tree spent (user + system, its
reaped children included, from /proc/PID/stat) on each timed step:
cpu_append_ms (per APPEND), cpu_select1_ms, cpu_select2_ms,
cpu_uid_fetch_ms, cpu_uid_fetch2_ms, cpu_search_ms.  On a shared
machine these vary less than the wall-clock times.
"""

import importlib.util
import os
import sys

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def tree_cpu_ms(bench, root):
    """User + system time of the tree rooted at root, in ms."""
    total = 0
    for pid in bench.tree_pids(root):
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += sum(int(x) for x in fields[11:15])
    return total * TICK_MS


def add_cpu(bench, root):
    """Wrap the timed steps of the phases to note the server's CPU."""
    steps = []
    sel = {}
    raw_command, timed_select = bench.raw_command, bench.timed_select
    connect = bench.connect
    phase_append, phase_big = bench.phase_append, bench.phase_big

    def cpu_raw_command(c, cmd):
        if sel:
            return raw_command(c, cmd)
        t = tree_cpu_ms(bench, root)
        out = raw_command(c, cmd)
        steps.append(tree_cpu_ms(bench, root) - t)
        return out

    def cpu_connect(a):
        c = connect(a)
        if sel:
            # The SELECT is timed from here, after the login.
            sel["t"] = tree_cpu_ms(bench, root)
        return c

    def cpu_timed_select(a, box):
        sel["on"] = 1
        try:
            out = timed_select(a, box)
            steps.append(tree_cpu_ms(bench, root) - sel["t"])
        finally:
            sel.clear()
        return out

    def cpu_phase_append(a, res, cleanup):
        t = tree_cpu_ms(bench, root)
        phase_append(a, res, cleanup)
        res["cpu_append_ms"] = "%.2f" % ((tree_cpu_ms(bench, root) - t) /
                                         max(1, a.append_count))

    def cpu_phase_big(a, res, cleanup):
        del steps[:]
        try:
            phase_big(a, res, cleanup)
        finally:
            names = ("select1", "select2", "uid_fetch", "uid_fetch2",
                     "search")
            for name, ms in zip(names, steps):
                res["cpu_%s_ms" % name] = "%.0f" % ms

    bench.raw_command = cpu_raw_command
    bench.timed_select = cpu_timed_select
    bench.connect = cpu_connect
    bench.phase_append = cpu_phase_append
    bench.phase_big = cpu_phase_big


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: imap_bench_tree.py BENCH_PY [ARGS]\n")
        return 2
    spec = importlib.util.spec_from_file_location("imap_bench", sys.argv[1])
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = sys.argv[2:]
    root = None
    if "--server-pid" in args:
        root = int(args[args.index("--server-pid") + 1])
    holders = bench.server_pids_for

    def tree_and_holders(local_ports, server_port):
        pids = set(holders(local_ports, server_port))
        if root is not None:
            pids.update(bench.tree_pids(root))
        return pids

    bench.server_pids_for = tree_and_holders
    if root is not None:
        add_cpu(bench, root)
    sys.argv = [sys.argv[1]] + args
    bench.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
