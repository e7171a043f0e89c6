"""A code location for the run-monitoring tests: one asset in a pool that blocks until released.

It writes its process id (the run worker's: the in-process executor runs the step there) so the test
can SIGKILL it, then waits for a release file; a retried or later run finds the file and finishes.
"""

import os
import time
from pathlib import Path

import dagster as dg

MARKERS_ENV = "VA_TEST_MARKERS"
RELEASE = "release"
PHASE_TAG = "test/phase"  # runs of one test phase wait for that phase's release file
BLOCK_SECONDS = 600.0  # bounds only a failure: the test releases or kills the step long before


@dg.asset(pool="vendor")
def vendor_call(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    markers = Path(os.environ[MARKERS_ENV])
    (markers / f"{context.run.run_id}.pid").write_text(str(os.getpid()))
    deadline = time.monotonic() + BLOCK_SECONDS
    release = markers / f"{RELEASE}-{context.run.tags.get(PHASE_TAG, '')}"
    while not release.exists():  # a blocker, not a clock: the test kills or releases it
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)
    return dg.MaterializeResult(metadata={"pid": os.getpid()})


vendor_job = dg.define_asset_job("vendor_job", [vendor_call], executor_def=dg.in_process_executor)
defs = dg.Definitions(assets=[vendor_call], jobs=[vendor_job])
