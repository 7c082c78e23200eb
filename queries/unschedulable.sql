-- unschedulable: the scheduler finds no node for a pod.
-- Trigger: default-scheduler Event `FailedScheduling` "0/3 nodes are available: 3
--   Insufficient cpu. preemption: ..." and the pod condition `PodScheduled=False` reason
--   `Unschedulable` (derived `k8s.pod.unschedulable`). Unbound PVCs are volume-failure's.
-- Evidence weight: a pending condition or a repeated failure is conclusive; a single
--   FailedScheduling (the autoscaler may fix it) is 0.6.
-- Subject: the workload.
SELECT event_id,
       COALESCE(workload_kind, object_kind) AS subject_kind,
       object_namespace AS subject_namespace,
       COALESCE(workload_name, object_name) AS subject_name,
       CASE
         WHEN message LIKE '%Insufficient cpu%' THEN 'InsufficientCPU'
         WHEN message LIKE '%Insufficient memory%' THEN 'InsufficientMemory'
         WHEN message LIKE '%Insufficient%' THEN 'InsufficientResources'
         WHEN message LIKE '%untolerated taint%' OR message LIKE '%had taint%' THEN 'UntoleratedTaint'
         WHEN message LIKE '%node affinity%' OR message LIKE '%node selector%' THEN 'NodeAffinityMismatch'
         WHEN message LIKE '%Too many pods%' THEN 'TooManyPods'
         ELSE 'Unschedulable'
       END AS reason,
       CASE WHEN event_type = 'k8s.pod.unschedulable' OR count >= 2 THEN 1.0 ELSE 0.6 END AS weight
FROM events
WHERE object_kind = 'Pod'
  AND (reason = 'FailedScheduling' OR event_type = 'k8s.pod.unschedulable')
  AND message NOT LIKE '%unbound immediate PersistentVolumeClaims%'
  AND message NOT LIKE '%volume node affinity conflict%'
