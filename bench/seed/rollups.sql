-- The rollups the telemetry writer would have written for the seeded rows (bench/run appends
-- this after seeding usage_events), so the dashboard pages read what a real ledger gives them.
-- One statement for both databases and all three grains: integer division and CASE mean the
-- same in each.
DELETE FROM usage_rollups;
INSERT INTO usage_rollups (grain, bucket_ms, account, logical_model, key_id, policy,
    status_class, requests, fallbacks, streamed, prompt_tokens, completion_tokens, cost_micros,
    latency_ms_sum, lat_le_100, lat_le_250, lat_le_500, lat_le_1000, lat_le_2500, lat_le_5000,
    lat_le_10000, lat_le_30000, lat_over)
SELECT g.grain, (e.at_ms / g.ms) * g.ms, COALESCE(e.account, ''), e.logical_model, e.key_id,
       COALESCE(e.policy, ''),
       CASE WHEN e.status < 400 THEN '2xx' WHEN e.status < 500 THEN '4xx' ELSE '5xx' END,
       COUNT(*), SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END), SUM(stream), SUM(prompt_tokens),
       SUM(completion_tokens), SUM(cost_micros), SUM(latency_ms),
       SUM(CASE WHEN latency_ms <= 100 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 100 AND latency_ms <= 250 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 250 AND latency_ms <= 500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 500 AND latency_ms <= 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1000 AND latency_ms <= 2500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 2500 AND latency_ms <= 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 5000 AND latency_ms <= 10000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 10000 AND latency_ms <= 30000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 30000 THEN 1 ELSE 0 END)
FROM usage_events e
CROSS JOIN (SELECT 'minute' AS grain, 60000 AS ms UNION ALL SELECT 'hour', 3600000
            UNION ALL SELECT 'day', 86400000) g
WHERE e.id LIKE 'seed-%'
GROUP BY 1, 2, 3, 4, 5, 6, 7;
