-- service-no-endpoints: a Service routes to nothing.
-- Trigger: a Service with a selector whose EndpointSlices (or Endpoints) list no ready
--   endpoint (derived `k8s.service.no_endpoints`, reason `NoReadyEndpoints`, or
--   `SelectorMatchesNoPods` when no pod carries the selector's labels).
-- Supporting evidence: connections the kernel saw refused (`kernel.tcp_connect_failed`,
--   ECONNREFUSED: kube-proxy REJECTs a ClusterIP with no endpoints with ICMP
--   port-unreachable, and a pod IP whose server is down answers with a reset) to the
--   Service's cluster IP or to a pod it selects join the same story: they show who was
--   hit. Alone they prove nothing about the Service and make no story.
-- Evidence weight: conclusive; each refused connection 0.25.
-- Subject: where the fix is. All selected pods on one node that went NotReady: that node.
--   Pods that exist but are not Ready: their workload (found through the topology's
--   ownership, Pod → ReplicaSet → Deployment). No pod matches: the Service's selector.
WITH sel AS (
  SELECT from_namespace AS ns, from_name AS service, to_name AS pod
  FROM topology WHERE relation = 'selects'
),
down_nodes AS (
  SELECT DISTINCT object_name AS node FROM events
  WHERE object_kind = 'Node' AND (event_type = 'k8s.node.not_ready' OR reason = 'NodeNotReady')
),
broken AS (
  SELECT s.event_id, s.object_namespace AS ns, s.object_name AS service,
         CASE WHEN d.node IS NOT NULL THEN 'Node'
              WHEN s.reason = 'NoReadyEndpoints' AND b.workload_name IS NOT NULL THEN b.workload_kind
              ELSE 'Service' END AS subject_kind,
         CASE WHEN d.node IS NOT NULL THEN '' ELSE s.object_namespace END AS subject_namespace,
         CASE WHEN d.node IS NOT NULL THEN d.node
              WHEN s.reason = 'NoReadyEndpoints' AND b.workload_name IS NOT NULL THEN b.workload_name
              ELSE s.object_name END AS subject_name,
         s.reason AS reason
  FROM events s
  LEFT JOIN service_backing b ON b.ns = s.object_namespace AND b.service = s.object_name
  LEFT JOIN service_placement p ON p.ns = s.object_namespace AND p.service = s.object_name
  LEFT JOIN down_nodes d ON p.nodes = 1 AND d.node = p.node AND s.reason = 'NoReadyEndpoints'
  WHERE s.event_type = 'k8s.service.no_endpoints'
),
subjects AS (
  SELECT ns, service, MIN(subject_kind) AS subject_kind, MIN(subject_namespace) AS subject_namespace,
         MIN(subject_name) AS subject_name, MIN(reason) AS reason
  FROM broken GROUP BY ns, service
),
refused AS (
  SELECT c.event_id, c.attributes['dst_namespace'] AS ns, c.attributes['dst_name'] AS service
  FROM events c
  WHERE c.event_type = 'kernel.tcp_connect_failed' AND c.reason = 'ConnectionRefused'
    AND c.attributes['dst_kind'] = 'Service'
  UNION ALL
  SELECT c.event_id, sel.ns, sel.service
  FROM events c
  JOIN sel ON sel.ns = c.attributes['dst_namespace'] AND sel.pod = c.attributes['dst_name']
  WHERE c.event_type = 'kernel.tcp_connect_failed' AND c.reason = 'ConnectionRefused'
    AND c.attributes['dst_kind'] = 'Pod'
)
SELECT event_id, subject_kind, subject_namespace, subject_name, reason, 1.0 AS weight
FROM broken
UNION ALL
SELECT r.event_id, su.subject_kind, su.subject_namespace, su.subject_name, su.reason, 0.25 AS weight
FROM refused r
JOIN subjects su ON su.ns = r.ns AND su.service = r.service
