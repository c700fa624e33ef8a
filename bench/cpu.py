#!/usr/bin/env python3
"""CPU time taken by *other* processes during a benchmark point (stdlib only).

  cpu.py snap NAME:PID...            -> JSON snapshot on stdout
  cpu.py quiet MAX_CORES TIMEOUT     -> exit 0 as soon as a 1 s window has the machine's
                                        busy CPU under MAX_CORES cores; exit 1 after TIMEOUT s
  cpu.py foreign SNAP_A SNAP_B TIMEFILE
      -> JSON {"seconds", "foreign_cores"}: the machine's busy CPU time (user + nice + system,
         all CPUs) during the interval, minus what the benchmark's own services (the PIDs
         of the snapshot) and the load generator (TIMEFILE: "user sys" from bash's `time`)
         used, divided by the interval: how many cores something else was using.
"""

import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system = (int(x) for x in fields[:3])
    return (user + nice + system) / TICK


def proc_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        # utime, stime are fields 14 and 15 (1-based) of the whole line; rest starts at field 3.
        return (int(rest[11]) + int(rest[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def main():
    if sys.argv[1] == "snap":
        named = dict(a.split(":", 1) for a in sys.argv[2:])
        print(json.dumps({"t": time.monotonic(), "busy": busy_seconds(), "pids": {n: proc_seconds(p) for n, p in named.items()}}))
        return
    if sys.argv[1] == "quiet":
        limit, deadline = float(sys.argv[2]), time.monotonic() + float(sys.argv[3])
        while True:
            t0, b0 = time.monotonic(), busy_seconds()
            time.sleep(1.0)
            t1, b1 = time.monotonic(), busy_seconds()
            if (b1 - b0) / (t1 - t0) < limit:
                return
            if t1 >= deadline:
                sys.exit(1)
    if sys.argv[1] == "foreign":
        with open(sys.argv[2]) as f:
            a = json.load(f)
        with open(sys.argv[3]) as f:
            b = json.load(f)
        gen = 0.0
        try:
            with open(sys.argv[4]) as f:
                words = f.read().split()
            gen = float(words[-2]) + float(words[-1])
        except (OSError, IndexError, ValueError):
            pass
        dt = max(b["t"] - a["t"], 1e-3)
        each = {n: round(max(b["pids"].get(n, 0.0) - s, 0.0), 3) for n, s in a["pids"].items()}
        ours = sum(each.values())
        foreign = max(b["busy"] - a["busy"] - ours - gen, 0.0)
        print(json.dumps({
            "seconds": round(dt, 2),
            "cpu_seconds": dict(each, loadgen=round(gen, 3)),
            "ours_cores": round((ours + gen) / dt, 3),
            "foreign_cores": round(foreign / dt, 3),
        }))
        return
    sys.exit("usage: cpu.py snap NAME:PID... | cpu.py quiet MAX_CORES TIMEOUT | cpu.py foreign SNAP_A SNAP_B TIMEFILE")


if __name__ == "__main__":
    main()
