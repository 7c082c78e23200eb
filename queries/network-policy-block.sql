-- network-policy-block: a NetworkPolicy cuts traffic a workload needs.
-- Trigger: connection timeouts ("i/o timeout", "context deadline exceeded", "connection timed
--   out", "Client.Timeout exceeded") in probe failures or errors of pods that a NetworkPolicy
--   selects, or of pods that depend on a Service whose pods a NetworkPolicy selects, where
--   the policy was created before the failure and at most 30 minutes earlier (a new or
--   changed policy). Dropped packets are silent: timeouts, not refusals, are the symptom.
-- Evidence weight: 0.5 each.
-- Subject: the NetworkPolicy.
SELECT DISTINCT e.event_id,
       'NetworkPolicy' AS subject_kind,
       b.policy_ns AS subject_namespace,
       b.policy AS subject_name,
       'TrafficBlockedByPolicy' AS reason,
       0.5 AS weight
FROM events e
JOIN policy_blocked b ON b.ns = e.object_namespace AND b.pod = e.object_name AND e.object_kind = 'Pod'
WHERE e.severity <> 'info'
  AND (e.message LIKE '%i/o timeout%' OR e.message LIKE '%context deadline exceeded%'
       OR e.message LIKE '%connection timed out%' OR e.message LIKE '%Client.Timeout exceeded%')
  AND e.event_time >= b.created
  AND e.event_time <= b.created + INTERVAL '30 minutes'
