-- cascading-failure: a failure in one workload makes the workloads that depend on it fail.
-- Trigger: a warning or error of a pod of workload B, where B's pods depend on a Service S
--   (their environment names S: `DB_HOST=mysql`, `http://api.shop:8080`), S selects pods of
--   workload A, and A's pods had an error or warning (other than routine) in the 10 minutes
--   before.
-- Evidence weight: 0.8 each.
-- Subject: the upstream workload A — the cascade is one story rooted at the first failure.
WITH upstream AS (
  SELECT object_namespace AS ns, object_name AS pod, workload_kind, workload_name, MIN(event_time) AS first_failure
  FROM events
  WHERE object_kind = 'Pod' AND severity IN ('error', 'critical', 'warning') AND workload_name IS NOT NULL
  GROUP BY object_namespace, object_name, workload_kind, workload_name
)
SELECT DISTINCT e.event_id,
       u.workload_kind AS subject_kind,
       u.ns AS subject_namespace,
       u.workload_name AS subject_name,
       'DependencyFailed' AS reason,
       0.8 AS weight
FROM events e
JOIN service_dependents d ON d.ns = e.object_namespace AND d.pod = e.object_name AND e.object_kind = 'Pod'
JOIN upstream u ON u.ns = d.up_ns AND u.pod = d.up_pod
WHERE e.severity IN ('error', 'critical', 'warning')
  AND (e.workload_name IS NULL OR e.workload_name <> u.workload_name OR e.object_namespace <> u.ns)
  AND e.event_time >= u.first_failure
  AND e.event_time <= u.first_failure + INTERVAL '10 minutes'
  -- the dependency as it was at the time of the failure
  AND d.valid_from <= e.event_time
  AND (d.valid_to IS NULL OR d.valid_to > e.event_time)
