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
"""

import importlib.util
import sys


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
    sys.argv = [sys.argv[1]] + args
    bench.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
