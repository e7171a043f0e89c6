"""What loading the definitions costs on top of `import dagster`, in fresh interpreters.

Every run worker, daemon tick, UI reload and CLI command imports the definitions first, so this is a
fixed cost on each of them. Each repeat runs one interpreter that times `import dagster` and then
`import video_analytics.definitions` with `time.process_time()` (CPU seconds, so load on a shared
machine does not skew it), and prints the median ratio (total / `import dagster` alone):

    .venv/bin/python benchmarks/import_cost.py --repeat 7

The first run is discarded (it writes the bytecode caches). The storage is the Parquet lake in a
temporary folder, as a fresh checkout's settings give.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

PROBE = """
import time
t = time.process_time()
import dagster
a = time.process_time()
import video_analytics.definitions
b = time.process_time()
print(a - t, b - a)
"""


def one_run(env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    dagster_s, ours_s = (float(x) for x in out.stdout.split())
    return dagster_s, ours_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "VIDEO_ANALYTICS_STORAGE": "parquet",
            "VIDEO_ANALYTICS_DATA_DIR": tmp,
            "DAGSTER_HOME": tmp,
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        one_run(env)  # bytecode caches
        runs = [one_run(env) for _ in range(args.repeat)]
    ratios = [(d + o) / d for d, o in runs]
    for d, o in runs:
        print(f"  import dagster {d:.2f} CPU-s, then the definitions {o:.2f} CPU-s: {(d + o) / d:.2f}x")
    print(
        f"median: dagster {statistics.median(d for d, _ in runs):.2f} CPU-s, "
        f"definitions {statistics.median(o for _, o in runs):.2f} CPU-s, "
        f"total / dagster {statistics.median(ratios):.2f}x (target 1.3x)"
    )


if __name__ == "__main__":
    main()
