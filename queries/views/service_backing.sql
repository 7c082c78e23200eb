-- service_backing: the workload behind each Service: the top owner of the pods it selects
-- (Pod → ReplicaSet → Deployment, or Pod → StatefulSet). Read by: service-no-endpoints.
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
)
SELECT sel.ns, sel.service,
       MIN(COALESCE(o2.kind, o1.kind)) AS workload_kind,
       MIN(COALESCE(o2.name, o1.name)) AS workload_name
FROM sel
JOIN owner1 o1 ON o1.ns = sel.ns AND o1.pod = sel.pod
LEFT JOIN owner2 o2 ON o2.ns = o1.ns AND o2.rs = o1.name AND o1.kind = 'ReplicaSet'
GROUP BY sel.ns, sel.service
