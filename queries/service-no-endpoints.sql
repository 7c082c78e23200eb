-- service-no-endpoints: a Service routes to nothing.
-- Trigger: a Service with a selector whose EndpointSlices (or Endpoints) list no ready
--   endpoint (derived `k8s.service.no_endpoints`, reason `NoReadyEndpoints`, or
--   `SelectorMatchesNoPods` when no pod carries the selector's labels).
-- Evidence weight: conclusive.
-- Subject: where the fix is. All selected pods on one node that went NotReady: that node.
--   Pods that exist but are not Ready: their workload (found through the topology's
--   ownership, Pod → ReplicaSet → Deployment). No pod matches: the Service's selector.
WITH sel AS (
  SELECT from_namespace AS ns, from_name AS service, to_name AS pod
  FROM topology WHERE relation = 'selects'
),
owner1 AS (
  SELECT from_namespace AS ns, from_name AS pod, to_kind AS kind, to_name AS name
  FROM topology WHERE relation = 'owned_by' AND from_kind = 'Pod'
),
owner2 AS (
  SELECT from_namespace AS ns, from_name AS rs, to_kind AS kind, to_name AS name
  FROM topology WHERE relation = 'owned_by' AND from_kind = 'ReplicaSet'
),
backing AS (
  SELECT sel.ns, sel.service,
         MIN(COALESCE(o2.kind, o1.kind)) AS workload_kind,
         MIN(COALESCE(o2.name, o1.name)) AS workload_name
  FROM sel
  JOIN owner1 o1 ON o1.ns = sel.ns AND o1.pod = sel.pod
  LEFT JOIN owner2 o2 ON o2.ns = o1.ns AND o2.rs = o1.name AND o1.kind = 'ReplicaSet'
  GROUP BY sel.ns, sel.service
),
placement AS (
  SELECT sel.ns, sel.service, MIN(r.to_name) AS node, COUNT(DISTINCT r.to_name) AS nodes
  FROM sel
  JOIN topology r ON r.relation = 'runs_on' AND r.from_namespace = sel.ns AND r.from_name = sel.pod
  GROUP BY sel.ns, sel.service
),
down_nodes AS (
  SELECT DISTINCT object_name AS node FROM events
  WHERE object_kind = 'Node' AND (event_type = 'k8s.node.not_ready' OR reason = 'NodeNotReady')
)
SELECT s.event_id,
       CASE WHEN d.node IS NOT NULL THEN 'Node'
            WHEN s.reason = 'NoReadyEndpoints' AND b.workload_name IS NOT NULL THEN b.workload_kind
            ELSE 'Service' END AS subject_kind,
       CASE WHEN d.node IS NOT NULL THEN '' ELSE s.object_namespace END AS subject_namespace,
       CASE WHEN d.node IS NOT NULL THEN d.node
            WHEN s.reason = 'NoReadyEndpoints' AND b.workload_name IS NOT NULL THEN b.workload_name
            ELSE s.object_name END AS subject_name,
       s.reason AS reason,
       1.0 AS weight
FROM events s
LEFT JOIN backing b ON b.ns = s.object_namespace AND b.service = s.object_name
LEFT JOIN placement p ON p.ns = s.object_namespace AND p.service = s.object_name
LEFT JOIN down_nodes d ON p.nodes = 1 AND d.node = p.node AND s.reason = 'NoReadyEndpoints'
WHERE s.event_type = 'k8s.service.no_endpoints'
