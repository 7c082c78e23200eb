-- probe-failure: liveness, readiness or startup probes failing.
-- Trigger: kubelet Event `Unhealthy` "Liveness probe failed: ...", "Readiness probe failed:
--   ...", "Startup probe failed: ..." and `Killing` "Container c failed liveness probe, will
--   be restarted" (pkg/kubelet/prober).
-- Evidence weight: a restart for a failed liveness/startup probe is conclusive; a failing
--   probe seen 5+ times is conclusive; fewer are weak (0.2), so a blip that recovers by
--   itself never makes a story.
-- Not evidence: blips spread over hours that the kubelet's event correlator folded into
--   one Event's count (seen twice or more, on average less than once per 5 minutes between
--   the Event's first and last timestamps). Each failed once and recovered; a pod that
--   does that all day is healthy, and its Event must not join another incident's story
--   (it would bring the pod's whole history with it).
-- Subject: the workload.
SELECT event_id,
       COALESCE(workload_kind, object_kind) AS subject_kind,
       object_namespace AS subject_namespace,
       COALESCE(workload_name, object_name) AS subject_name,
       CASE
         WHEN message LIKE 'Liveness probe%' OR message LIKE '%failed liveness probe%' THEN 'LivenessProbeFailed'
         WHEN message LIKE 'Startup probe%' OR message LIKE '%failed startup probe%' THEN 'StartupProbeFailed'
         ELSE 'ReadinessProbeFailed'
       END AS reason,
       CASE
         WHEN reason = 'Killing' THEN 1.0
         WHEN count >= 5 THEN 1.0
         ELSE 0.2
       END AS weight
FROM events
WHERE object_kind = 'Pod'
  AND (
       (reason = 'Unhealthy' AND (message LIKE 'Liveness probe failed%' OR message LIKE 'Readiness probe failed%' OR message LIKE 'Startup probe failed%'))
    OR (reason = 'Killing' AND (message LIKE '%failed liveness probe%' OR message LIKE '%failed startup probe%'))
  )
  AND NOT COALESCE(reason = 'Unhealthy' AND count >= 2
           AND to_unixtime(TRY_CAST(attributes['last_timestamp'] AS TIMESTAMP)) - to_unixtime(event_time) > count * 300,
           false)
