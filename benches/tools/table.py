#!/usr/bin/env python3
"""Markdown tables of the medians kept by run.sh, with the ratios of each run.

    python3 benches/tools/table.py RUNS_DIR

Ratios are taken within one run (both sides measured minutes apart at most),
never across runs.
"""
import glob
import os
import re
import sys


def load(d):
    runs = {}
    for path in sorted(glob.glob(os.path.join(d, "*-run*.tsv"))):
        m = re.match(r"(.+)-run(\d+)\.tsv$", os.path.basename(path))
        bench, r = m.group(1), int(m.group(2))
        with open(path) as f:
            for line in f:
                g, fn, med, _lo, _hi = line.rstrip("\n").split("\t")
                runs.setdefault(r, {})[(g, fn)] = float(med)
    return runs


def t(ns):
    if ns is None:
        return "-"
    if ns < 1e3:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.3f} s"


def paired(d):
    """The `paired:` lines printed by the live bench, per run."""
    out = {}
    for path in sorted(glob.glob(os.path.join(d, "live-run*.log"))):
        r = int(re.search(r"run(\d+)\.log$", path).group(1))
        vals = {}
        with open(path) as f:
            for line in f:
                if line.startswith("paired:"):
                    for kv in line.split()[1:]:
                        k, v = kv.split("=")
                        vals[k] = float(v)
        out[r] = vals
    return out


def paired_parsers(d):
    """The `paired:` lines printed by the parsers bench: {run: {input: (ours, procfs)}}."""
    out = {}
    for path in sorted(glob.glob(os.path.join(d, "parsers-run*.log"))):
        r = int(re.search(r"run(\d+)\.log$", path).group(1))
        with open(path) as f:
            for line in f:
                m = re.match(r"paired: (\S+) perfcore_ns=([\d.]+) procfs_ns=([\d.]+)", line)
                if m:
                    out.setdefault(r, {})[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return out


def main():
    runs = load(sys.argv[1])
    pr = paired(sys.argv[1])
    pp = paired_parsers(sys.argv[1])
    if pp:
        prs = sorted(pp)
        print("### Parsers, paired loop (200 µs batches of each side in turn, medians per call)\n")
        print("| input | " + " | ".join(f"run {r}: perfcore / procfs" for r in prs)
              + " | " + " | ".join(f"run {r}: procfs ÷ perfcore" for r in prs) + " |")
        print("|---" * (1 + 2 * len(prs)) + "|")
        for name in pp[prs[0]]:
            cells = [f"{t(pp[r][name][0])} / {t(pp[r][name][1])}" if name in pp[r] else "-" for r in prs]
            ratios = [f"{pp[r][name][1] / pp[r][name][0]:.2f}x" if name in pp[r] else "-" for r in prs]
            print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        print()
    rs = sorted(runs)
    cols = " | ".join(f"run {r}" for r in rs)
    sep = "|---" * (2 + len(rs)) + "|"

    def med(r, g, fn):
        return runs[r].get((g, fn))

    def pair_cells(g, a, b):
        out = []
        for r in rs:
            x, y = med(r, g, a), med(r, g, b)
            out.append(f"{t(x)} / {t(y)}")
        return out

    def ratio_cells(g, num, den):
        out = []
        for r in rs:
            x, y = med(r, g, num), med(r, g, den)
            out.append(f"{x / y:.2f}x" if x and y else "-")
        return out

    groups = sorted({g for r in rs for (g, _f) in runs[r]})
    print("### Parsers, criterion (each side measured on its own for ~2 s, medians)\n")
    print(f"| input | " + " | ".join(f"run {r}: perfcore / procfs" for r in rs)
          + " | " + " | ".join(f"run {r}: procfs ÷ perfcore" for r in rs) + " |")
    print("|---" * (1 + 2 * len(rs)) + "|")
    for g in groups:
        if any((g, "procfs") in runs[r] for r in rs):
            print(f"| {g} | " + " | ".join(pair_cells(g, "perfcore", "procfs")) + " | "
                  + " | ".join(ratio_cells(g, "procfs", "perfcore")) + " |")
            if any((g, "perfcore parse_into") in runs[r] for r in rs):
                print(f"| {g} (parse_into, Vec kept) | "
                      + " | ".join(pair_cells(g, "perfcore parse_into", "procfs")) + " | "
                      + " | ".join(ratio_cells(g, "procfs", "perfcore parse_into")) + " |")

    for g in groups:
        if any((g, "procfs") in runs[r] for r in rs):
            continue
        fns = sorted({f for r in rs for (gg, f) in runs[r] if gg == g})
        print(f"\n### {g}\n")
        print(f"| benchmark | {cols} |")
        print(sep[: 4 * (1 + len(rs)) + 1])
        for fn in fns:
            print(f"| {fn} | " + " | ".join(t(med(r, g, fn)) for r in rs) + " |")
        if g == "live_sample":
            print(f"\n| ratio | {cols} |")
            print(sep[: 4 * (1 + len(rs)) + 1])
            for label, a, b in [
                ("perfcore read+parse ÷ floor (pread to EOF)", "perfcore read+parse", "floor pread to EOF"),
                ("perfcore read+parse ÷ floor (one pread per file)", "perfcore read+parse", "floor one pread per file"),
                ("perfcore read only ÷ floor (pread to EOF)", "perfcore read only", "floor pread to EOF"),
                ("procfs ÷ perfcore", "procfs current()", "perfcore read+parse"),
                ("sysinfo narrow ÷ perfcore (both spaced 210 ms)", "spaced/sysinfo narrow", "spaced/perfcore read+parse"),
                ("sysinfo refresh_cpu_all etc ÷ perfcore (both spaced)", "spaced/sysinfo refresh_cpu_all etc", "spaced/perfcore read+parse"),
            ]:
                print(f"| {label} | " + " | ".join(ratio_cells(g, a, b)) + " |")
            if pr:
                print(f"\nPaired loop (contenders timed in turn, rotating order, medians):\n")
                print(f"| | {cols} |")
                print(sep[: 4 * (1 + len(rs)) + 1])
                for key, label in [
                    ("floor_eof_ns", "floor, pread to EOF"),
                    ("floor_once_ns", "floor, one pread per file"),
                    ("perfcore_ns", "perfcore read+parse"),
                    ("perfcore_read_only_ns", "perfcore read only"),
                    ("procfs_ns", "procfs current()"),
                ]:
                    print(f"| {label} | " + " | ".join(t(pr.get(r, {}).get(key)) for r in rs) + " |")
                for key, label in [
                    ("perfcore/floor_eof", "perfcore ÷ floor (pread to EOF)"),
                    ("perfcore/floor_once", "perfcore ÷ floor (one pread per file)"),
                    ("read_only/floor_eof", "perfcore read only ÷ floor (pread to EOF)"),
                    ("procfs/perfcore", "procfs ÷ perfcore"),
                ]:
                    print(f"| {label} | " + " | ".join(
                        f"{pr[r][key]:.2f}x" if key in pr.get(r, {}) else "-" for r in rs) + " |")


if __name__ == "__main__":
    main()
