"""`python -m benchmarks [NAME ...]`: run every benchmarks/bench_*.py (or the named ones) and print their tables.

Each module defines `main() -> None` and prints its figures measured side by side in the same run.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    if {"-h", "--help"} & set(argv):
        print(__doc__.strip())
        for name in names:
            doc = (importlib.import_module(f"benchmarks.{name}").__doc__ or "").strip().split("\n")[0]
            print(f"  {name.removeprefix('bench_'):<10} {doc}")
        return
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in argv] or names
    unknown = set(wanted) - set(names)
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; available: {', '.join(names)}")
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
