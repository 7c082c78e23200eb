-- node-pressure-eviction: the kubelet evicts pods because its node runs low on memory,
-- disk or PIDs.
-- Trigger: kubelet Events `Evicted` on pods "The node was low on resource: memory.
--   Threshold quantity: ..., available: ..." and pods whose status reason is `Evicted`;
--   node Events `EvictionThresholdMet` "Attempting to reclaim memory",
--   `NodeHasDiskPressure`, `NodeHasMemoryPressure`; Node conditions MemoryPressure /
--   DiskPressure / PIDPressure = True (derived `k8s.node.pressure`).
-- Evidence weight: an eviction is conclusive; pressure without evictions is 0.7.
-- Subject: the node.
SELECT event_id,
       'Node' AS subject_kind,
       '' AS subject_namespace,
       node AS subject_name,
       CASE
         WHEN message LIKE '%low on resource: memory%' OR message LIKE '%reclaim memory%' OR reason IN ('MemoryPressure', 'NodeHasMemoryPressure') THEN 'MemoryPressure'
         WHEN message LIKE '%low on resource: pids%' OR reason = 'PIDPressure' THEN 'PIDPressure'
         ELSE 'DiskPressure'
       END AS reason,
       CASE WHEN reason = 'Evicted' OR event_type = 'k8s.pod.evicted' THEN 1.0 ELSE 0.7 END AS weight
FROM events
WHERE node IS NOT NULL
  AND (
       (object_kind = 'Pod' AND (reason = 'Evicted' OR event_type = 'k8s.pod.evicted'))
    OR (object_kind = 'Node' AND (reason IN ('EvictionThresholdMet', 'NodeHasDiskPressure', 'NodeHasMemoryPressure', 'NodeHasInsufficientPID') OR event_type = 'k8s.node.pressure'))
  )
