-- system-oom: the whole node ran out of memory and the kernel killed processes outside any
-- container limit.
-- Trigger: kernel "Out of memory: Killed process <pid> (<comm>)" with
--   `oom-kill:constraint=CONSTRAINT_NONE` (`kernel.system_oom`); kubelet Event `SystemOOM`
--   "System OOM encountered, victim process: <comm>, pid: <pid>" on the Node;
--   node-problem-detector `OOMKilling` whose message is not a memory cgroup's.
-- Evidence weight: conclusive.
-- Subject: the node.
SELECT event_id,
       'Node' AS subject_kind,
       '' AS subject_namespace,
       COALESCE(node, object_name) AS subject_name,
       'SystemOOM' AS reason,
       1.0 AS weight
FROM events
WHERE event_type = 'kernel.system_oom'
   OR (object_kind = 'Node' AND reason = 'SystemOOM')
   OR (object_kind = 'Node' AND reason = 'OOMKilling' AND message NOT LIKE 'Memory cgroup%')
