-- Does quality of experience move completion? Rows with Agora QoE for their content, grouped into
-- rebuffering and startup bands; completion and rates are weighted by views.
CREATE OR REPLACE VIEW qoe_vs_completion AS
SELECT
    platform,
    CASE
        WHEN qoe_rebuffer_percentage = 0 THEN '0%'
        WHEN qoe_rebuffer_percentage < 1 THEN '0-1%'
        WHEN qoe_rebuffer_percentage < 3 THEN '1-3%'
        ELSE '3%+'
    END AS rebuffer_band,
    CASE
        WHEN qoe_startup_time_median_ms < 1000 THEN '<1s'
        WHEN qoe_startup_time_median_ms < 2000 THEN '1-2s'
        ELSE '2s+'
    END AS startup_band,
    count(*) AS video_days,
    CAST(sum(views) AS BIGINT) AS views,
    sum(completion_rate * views) / nullif(sum(views) FILTER (WHERE completion_rate IS NOT NULL), 0)
        AS completion_rate,
    avg(qoe_rebuffer_percentage) AS avg_rebuffer_percentage,
    avg(qoe_startup_time_median_ms) AS avg_startup_time_ms,
    avg(qoe_video_start_failure_percentage) AS avg_start_failure_percentage,
    avg(qoe_playback_failure_percentage) AS avg_playback_failure_percentage
FROM video_daily_performance
WHERE qoe_rebuffer_percentage IS NOT NULL
GROUP BY ALL
