-- The cross-platform views over video_daily_performance (the conformed table of every platform),
-- written once in BigQuery's dialect like the other files here: built as they are in BigQuery and
-- translated by sqlglot for the DuckDB warehouse (video_analytics/warehouse/views.py). Filter by date
-- for a period; every view covers all the days in the warehouse.

-- Each platform's share of the day's views (and watch time) across all platforms.
CREATE OR REPLACE VIEW platform_share_daily AS
SELECT
    date,
    platform,
    CAST(SUM(views) AS INT64) AS views,
    SUM(watch_time_seconds) / 3600.0 AS watch_hours,
    SUM(views) / NULLIF(SUM(SUM(views)) OVER (PARTITION BY date), 0) AS view_share,
    SUM(watch_time_seconds) / NULLIF(SUM(SUM(watch_time_seconds)) OVER (PARTITION BY date), 0) AS watch_share
FROM video_daily_performance
GROUP BY date, platform;

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
    COUNT(*) AS video_days,
    CAST(SUM(views) AS INT64) AS views,
    SUM(completion_rate * views) / NULLIF(SUM(IF(completion_rate IS NOT NULL, views, NULL)), 0)
        AS completion_rate,
    AVG(qoe_rebuffer_percentage) AS avg_rebuffer_percentage,
    AVG(qoe_startup_time_median_ms) AS avg_startup_time_ms,
    AVG(qoe_video_start_failure_percentage) AS avg_start_failure_percentage,
    AVG(qoe_playback_failure_percentage) AS avg_playback_failure_percentage
FROM video_daily_performance
WHERE qoe_rebuffer_percentage IS NOT NULL
GROUP BY platform, rebuffer_band, startup_band;

-- Content ranked by views over every platform and day; `identity_methods` shows whether the
-- cross-platform join is a fact or a guess. The title is that of the content's most viewed row
-- (ties: the first title in alphabetical order).
CREATE OR REPLACE VIEW top_content AS
WITH titled AS (
    SELECT
        *,
        FIRST_VALUE(title IGNORE NULLS) OVER (
            PARTITION BY content_id ORDER BY views DESC, title
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS top_title
    FROM video_daily_performance
)
SELECT
    content_id,
    ANY_VALUE(top_title) AS title,
    COUNT(DISTINCT platform) AS platforms,
    STRING_AGG(DISTINCT platform, ', ' ORDER BY platform) AS platform_list,
    STRING_AGG(DISTINCT identity_method, ', ' ORDER BY identity_method) AS identity_methods,
    MIN(date) AS first_date,
    MAX(date) AS last_date,
    CAST(SUM(views) AS INT64) AS views,
    SUM(watch_time_seconds) / 3600.0 AS watch_hours,
    RANK() OVER (ORDER BY SUM(views) DESC) AS rank
FROM titled
GROUP BY content_id;

-- Views and watch time per platform and ISO week (Monday start), with the change from the week before.
-- `days` tells a partial week (the current one, or the first loaded) from a full one.
CREATE OR REPLACE VIEW week_over_week_by_platform AS
WITH weekly AS (
    SELECT
        platform,
        CAST(DATE_TRUNC(date, WEEK(MONDAY)) AS DATE) AS week_start,
        COUNT(DISTINCT date) AS days,
        CAST(SUM(views) AS INT64) AS views,
        SUM(watch_time_seconds) / 3600.0 AS watch_hours
    FROM video_daily_performance
    GROUP BY platform, week_start
)
SELECT
    platform,
    week_start,
    days,
    views,
    watch_hours,
    LAG(views) OVER w AS previous_week_views,
    views - LAG(views) OVER w AS views_change,
    100.0 * (views - LAG(views) OVER w) / NULLIF(LAG(views) OVER w, 0) AS views_change_pct
FROM weekly
WINDOW w AS (PARTITION BY platform ORDER BY week_start);
