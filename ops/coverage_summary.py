"""The line coverage ``./bpc test`` prints at its end: ``python -m ops.coverage_summary DIR``.

Combines the data files every test process and every service it started wrote into ``DIR``
(``pyproject.toml`` [tool.coverage]) and prints one line per package and the total.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import coverage

PACKAGES = ("services", "gateway", "common", "ops")


def summary(directory: Path) -> dict[str, tuple[int, int]]:
    """package → (statements, statements run), from the combined data in ``directory``; files
    no test ever imported count with all their lines missing."""
    cov = coverage.Coverage(data_file=str(directory / "data"))
    cov.combine([str(directory)])
    cov.save()
    cov.load()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "coverage.json"
        cov.json_report(outfile=str(report))
        files = json.loads(report.read_text())["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for filename, measured in files.items():
        package = Path(filename).parts[0]
        totals[package][0] += measured["summary"]["num_statements"]
        totals[package][1] += measured["summary"]["covered_lines"]
    return {name: (s, r) for name, (s, r) in totals.items()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else "var/coverage")
    if not any(directory.glob("data.*")) and not (directory / "data").exists():
        print(f"no coverage data in {directory}", file=sys.stderr)
        return 1
    totals = summary(directory)
    print("== line coverage (coverage.py; the tests and every process they started) ==")
    product = [0, 0]
    for name in PACKAGES:
        statements, run = totals.get(name, (0, 0))
        if not statements:
            continue
        share = 100 * run / statements
        print(f"   {name + '/':<10} {run:>6} of {statements:>6} lines  {share:5.1f}%")
        if name != "ops":
            product[0] += statements
            product[1] += run
    if product[0]:
        share = 100 * product[1] / product[0]
        lines = f"{product[1]} of {product[0]} lines"
        print(f"   services/ + gateway/ + common/: {lines}  {share:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
