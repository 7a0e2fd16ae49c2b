"""``python -m bench [--quick] [--only NAME]``: run the benchmarks and print one table of ratios."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from bench.report import Row, format_table

# benchmark name → module (each has run(quick: bool) -> list[Row]), in running order
BENCHMARKS: dict[str, str] = {
    "aws_calls_per_webhook": "bench.aws_calls",
    "cpu_per_webhook": "bench.cpu",
    "cold_start_import": "bench.cold_start",
    "e2e_webhooks_per_second": "bench.e2e",
    "message_cost_vs_depth": "bench.depth",
    "ack_latency": "bench.ack_latency",
    "routing_decisions_per_second": "bench.routing",
    "crisis_broadcast": "bench.crisis",
    "kpi_reports": "bench.kpis",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only this one (repeatable)")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for name, module_name in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        module = importlib.import_module(module_name)
        environment = dict(os.environ)  # some benchmarks set their own: none leaks into the next
        try:
            rows.extend(module.run(args.quick))
        finally:
            os.environ.clear()
            os.environ.update(environment)
        print(f"{name}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(format_table(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
