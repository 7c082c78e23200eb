-- oom-killed: a container killed for exceeding its memory limit.
-- Trigger: container status `lastState.terminated.reason = OOMKilled` (exit 137, derived
--   `k8s.pod.oom_killed`); the kernel's memcg OOM kill ("Memory cgroup out of memory:
--   Killed process", `oom-kill:constraint=CONSTRAINT_MEMCG`, `kernel.oom_kill`) whose
--   kubepods cgroup names the pod.
-- Evidence weight: each kill is conclusive.
-- Subject: the pod's workload; a kernel kill the capture cannot tie to a pod blames its cgroup.
SELECT event_id,
       CASE WHEN object_kind = 'Pod' THEN COALESCE(workload_kind, 'Pod') ELSE 'Cgroup' END AS subject_kind,
       object_namespace AS subject_namespace,
       CASE WHEN object_kind = 'Pod' THEN COALESCE(workload_name, object_name)
            ELSE COALESCE(cgroup, CAST(pid AS VARCHAR)) END AS subject_name,
       'OOMKilled' AS reason,
       1.0 AS weight
FROM events
WHERE event_type = 'k8s.pod.oom_killed'
   OR event_type = 'kernel.oom_kill'
