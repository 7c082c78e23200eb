-- crashloop: a container that keeps exiting and is restarted with growing back-off.
-- Trigger: kubelet Event `BackOff` "Back-off restarting failed container <c> in pod <p>"
--   (pkg/kubelet/kuberuntime), a container status waiting in `CrashLoopBackOff`, or a kubelet
--   journal line "Error syncing pod ... CrashLoopBackOff". Init containers are init-failure's.
-- Evidence weight: repeated back-off (count >= 3) is conclusive; a first back-off is half.
-- Subject: the pod's workload (top owner), else the pod.
SELECT event_id,
       COALESCE(workload_kind, object_kind) AS subject_kind,
       object_namespace AS subject_namespace,
       COALESCE(workload_name, object_name) AS subject_name,
       'CrashLoopBackOff' AS reason,
       CASE WHEN count >= 3 OR event_type = 'k8s.container.waiting' THEN 1.0 ELSE 0.5 END AS weight
FROM events
WHERE object_kind = 'Pod'
  AND attributes['init_container'] IS NULL
  AND (
       (reason = 'BackOff' AND message LIKE 'Back-off restarting failed container%')
    OR (event_type = 'k8s.container.waiting' AND reason = 'CrashLoopBackOff')
    OR (event_type = 'kubelet.error' AND message LIKE '%CrashLoopBackOff%')
  )
