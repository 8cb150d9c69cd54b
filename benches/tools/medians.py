#!/usr/bin/env python3
"""Prints the median of every criterion benchmark of the last run, as TSV.

    python3 benches/tools/medians.py [CRITERION_DIR] [GROUP_PREFIX...]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion (or target/criterion).
Columns: group, function, median (ns), median's 95% CI low and high (ns).
"""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    default = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    root = args.pop(0) if args and os.path.isdir(args[0]) else default
    prefixes = args
    rows = []
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        group, func = bench["group_id"], bench.get("function_id") or ""
        if prefixes and not any(group.startswith(p) for p in prefixes):
            continue
        med = est["median"]
        ci = med["confidence_interval"]
        rows.append((group, func, med["point_estimate"], ci["lower_bound"], ci["upper_bound"]))
    for r in sorted(rows):
        print(f"{r[0]}\t{r[1]}\t{r[2]:.1f}\t{r[3]:.1f}\t{r[4]:.1f}")


if __name__ == "__main__":
    main()
