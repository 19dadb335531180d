"""Run the benchmarks: ``python -m shanzhi_dev.bench [names…]`` (``make bench``)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from shanzhi_kit.testing import fresh_database

from shanzhi_dev.bench import BenchContext, Figure, cpu_reference_ms, pgbench_tps

#: Benchmark modules under shanzhi_dev.bench, in the order they run.
MODULES = ["talent", "points"]


def table(figures: list[Figure], baseline_tps: float) -> str:
    lines = [
        "| benchmark | metric | value | unit | vs pgbench -N |",
        "|---|---|---:|---|---:|",
        f"| pgbench -N (baseline) | transactions | {baseline_tps:,.0f} | tx/s | 1.00 |",
    ]
    for f in figures:
        ratio = f"{f.value / baseline_tps:.3f}" if f.ratio_to == "pgbench" and baseline_tps else ""
        note = f" ({f.note})" if f.note else ""
        lines.append(f"| {f.benchmark} | {f.metric}{note} | {f.value:,.2f} | {f.unit} | {ratio} |")
    return "\n".join(lines)


async def main_async(names: list[str], pgbench_seconds: int) -> str:
    ctx = BenchContext()
    figures: list[Figure] = []
    await fresh_database("shanzhi_bench_pgbench")
    print("running pgbench -N (before) …", flush=True)
    before = await asyncio.to_thread(pgbench_tps, "shanzhi_bench_pgbench", pgbench_seconds)
    cpu_before = cpu_reference_ms()
    try:
        for name in names:
            module = importlib.import_module(f"shanzhi_dev.bench.{name}")
            print(f"running {name} …", flush=True)
            figures += await module.run(ctx)
    finally:
        ctx.close()
    print("running pgbench -N (after) …", flush=True)
    after = await asyncio.to_thread(pgbench_tps, "shanzhi_bench_pgbench", pgbench_seconds)
    cpu_after = cpu_reference_ms()
    return table(figures, max(before, after)) + (
        f"\n\npgbench -N before the benchmarks: {before:,.0f} tx/s, after: {after:,.0f} tx/s; "
        "ratios use the better of the two, as single awards and batches are the best of "
        "their rounds.\n\n"
        f"CPU reference (a fixed piece of pure Python; higher is a slower CPU): "
        f"{cpu_before:,.0f} ms before the benchmarks, {cpu_after:,.0f} ms after. pgbench waits "
        "mostly on disk flushes and hardly moves with it; CPU-bound figures (single awards, "
        "CPU per operation) move with it.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=MODULES, help=f"benchmarks (default: {MODULES})")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    started = time.monotonic()
    text = asyncio.run(main_async(args.names, args.pgbench_seconds))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    workers = os.environ.get("SHANZHI_WORKERS", "1")
    report = (f"# Shanzhi benchmarks {stamp}\n\nService worker processes: {workers} "
              f"(SHANZHI_WORKERS); machine: {os.cpu_count()} cores shared by PostgreSQL, "
              f"the services and this client.\n\n{text}\n\n"
              f"(total {time.monotonic() - started:.0f} s)\n")
    (args.out / f"bench-{stamp}.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
