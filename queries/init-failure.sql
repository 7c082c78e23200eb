-- init-failure: an init container fails, so the pod never starts (`Init:CrashLoopBackOff`,
-- `Init:Error`).
-- Trigger: kubelet Events `BackOff`/`Failed` whose fieldPath is `spec.initContainers{c}`;
--   init container statuses terminated with a non-zero exit or waiting in a failure reason.
-- Evidence weight: back-off or a failed exit is conclusive, other init warnings 0.5.
-- Subject: the workload.
SELECT event_id,
       COALESCE(workload_kind, object_kind) AS subject_kind,
       object_namespace AS subject_namespace,
       COALESCE(workload_name, object_name) AS subject_name,
       'InitContainerFailed' AS reason,
       CASE WHEN reason = 'BackOff' OR event_type = 'k8s.container.terminated' OR reason = 'CrashLoopBackOff' THEN 1.0 ELSE 0.5 END AS weight
FROM events
WHERE object_kind = 'Pod'
  AND attributes['init_container'] = 'true'
  AND (
       (source = 'k8s-event' AND reason IN ('BackOff', 'Failed'))
    OR (event_type = 'k8s.container.terminated' AND exit_code <> 0)
    OR (event_type = 'k8s.container.waiting' AND reason IN ('CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'))
  )
