-- node-not-ready: a node stops being Ready; its pods lose their home.
-- Trigger: node-controller Event `NodeNotReady` "Node n status is now: NodeNotReady" and
--   the Node condition Ready=False/Unknown (derived `k8s.node.not_ready`: `KubeletNotReady`,
--   `NodeStatusUnknown` "Kubelet stopped posting node status."); on pods, node-lifecycle
--   Events `NodeNotReady` "Node is not ready" and `TaintManagerEviction` "Marking for
--   deletion Pod ns/p".
-- Evidence weight: the node's own state is conclusive; each pod that loses it adds 0.5.
-- Subject: the node.
SELECT event_id,
       'Node' AS subject_kind,
       '' AS subject_namespace,
       COALESCE(node, object_name) AS subject_name,
       CASE WHEN event_type = 'k8s.node.not_ready' THEN reason ELSE 'NodeNotReady' END AS reason,
       CASE WHEN object_kind = 'Node' THEN 1.0 ELSE 0.5 END AS weight
FROM events
WHERE (object_kind = 'Node' AND (reason = 'NodeNotReady' OR event_type = 'k8s.node.not_ready'))
   OR (object_kind = 'Pod' AND node IS NOT NULL AND reason IN ('NodeNotReady', 'TaintManagerEviction'))
