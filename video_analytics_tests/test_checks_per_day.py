"""The per-day check mechanism any daily asset can adopt (`video_analytics.checks`)."""

import dagster as dg

from video_analytics.checks import daily_check_spec, day_results, evaluations_after_materialization
from video_analytics.partitions import daily_partitions, partition_days, partition_range_tags

BAD_DAYS: set[str] = set()  # days whose rows the toy asset reports as duplicated


class DaysIOManager(dg.ConfigurableIOManager):
    """Keeps nothing: the toy asset's data is not the point, its materialization events are."""

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        pass

    def load_input(self, context: dg.InputContext) -> None:
        return None


@dg.asset(
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[daily_check_spec("unique_rows", "toy", blocking=True), daily_check_spec("fresh", "toy")],
)
def toy(context: dg.AssetExecutionContext):
    yield dg.Output(None)
    checked = []
    for day in (d.isoformat() for d in partition_days(context)):
        duplicates = 3 if day in BAD_DAYS else 0
        results = [
            dg.AssetCheckResult(
                check_name="unique_rows", passed=not duplicates, metadata={"rows": duplicates}
            ),
            dg.AssetCheckResult(check_name="fresh", passed=True),
        ]
        checked += day_results(day, results)
    yield from evaluations_after_materialization(context, checked)


def run(instance, start: str, end: str):
    return dg.materialize(
        [toy],
        instance=instance,
        resources={"io_manager": DaysIOManager()},
        tags=partition_range_tags(start, end),
        raise_on_error=False,
    )


def shown(instance, name: str) -> dict[str, list[str]]:
    key = dg.AssetCheckKey(dg.AssetKey("toy"), name)
    state = instance.event_log_storage.get_asset_check_state([(key, daily_partitions())])[key]
    return {
        status.value: sorted(subset.subset_value.get_partition_keys())
        for status, subset in state.subsets.items()
        if subset.subset_value and not subset.is_empty
    }


def test_a_failed_day_marks_that_day_and_a_passing_rerun_clears_it():
    BAD_DAYS.clear()
    BAD_DAYS.add("2024-01-02")
    with dg.instance_for_test() as instance:
        result = run(instance, "2024-01-01", "2024-01-03")
        assert not result.success, "a blocking check failed on one day: the run says so"
        assert "1 blocking asset check failed" in str(
            next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
        )
        assert shown(instance, "unique_rows") == {
            "SUCCEEDED": ["2024-01-01", "2024-01-03"],
            "FAILED": ["2024-01-02"],
        }
        assert shown(instance, "fresh") == {"SUCCEEDED": ["2024-01-01", "2024-01-02", "2024-01-03"]}
        failed = next(e for e in result.get_asset_check_evaluations() if not e.passed)
        assert (failed.partition, failed.metadata["rows"].value) == ("2024-01-02", 3)

        BAD_DAYS.clear()
        assert run(instance, "2024-01-02", "2024-01-02").success
        assert shown(instance, "unique_rows") == {"SUCCEEDED": ["2024-01-01", "2024-01-02", "2024-01-03"]}
