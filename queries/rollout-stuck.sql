-- rollout-stuck: a Deployment rollout stops progressing.
-- Trigger: Deployment condition Progressing=False reason `ProgressDeadlineExceeded`
--   ("ReplicaSet \"x\" has timed out progressing."), derived `k8s.deployment.rollout_stuck`;
--   deployment-controller Event `ProgressDeadlineExceeded`.
-- Evidence weight: conclusive; the pods' own failures usually name a more specific cause.
-- Subject: the Deployment.
SELECT event_id,
       object_kind AS subject_kind,
       object_namespace AS subject_namespace,
       object_name AS subject_name,
       'ProgressDeadlineExceeded' AS reason,
       1.0 AS weight
FROM events
WHERE object_kind = 'Deployment'
  AND (event_type = 'k8s.deployment.rollout_stuck' OR reason = 'ProgressDeadlineExceeded')
