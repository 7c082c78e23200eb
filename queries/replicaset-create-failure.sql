-- replicaset-create-failure: a controller cannot create pods at all.
-- Trigger: replicaset/statefulset/daemonset/job controller Event `FailedCreate` "Error
--   creating: pods \"web-7d4f-\" is forbidden: exceeded quota: compute, requested: ...",
--   "... error looking up service account shop/app: serviceaccount \"app\" not found",
--   "admission webhook \"x\" denied the request: ...", "violates PodSecurity ..."; workload
--   condition ReplicaFailure=True (derived `k8s.workload.replica_failure`).
-- Evidence weight: conclusive.
-- Subject: what refuses: the ResourceQuota or the missing ServiceAccount; else the workload.
SELECT event_id,
       CASE WHEN message LIKE '%exceeded quota:%' THEN 'ResourceQuota'
            WHEN message LIKE '%serviceaccount "%" not found%' THEN 'ServiceAccount'
            ELSE COALESCE(workload_kind, object_kind) END AS subject_kind,
       object_namespace AS subject_namespace,
       CASE WHEN message LIKE '%exceeded quota:%' THEN regexp_match(message, 'exceeded quota: ([^,\s]+)')[1]
            WHEN message LIKE '%serviceaccount "%" not found%' THEN regexp_match(message, 'serviceaccount "([^"]+)" not found')[1]
            ELSE COALESCE(workload_name, object_name) END AS subject_name,
       CASE WHEN message LIKE '%exceeded quota:%' THEN 'QuotaExceeded'
            WHEN message LIKE '%serviceaccount "%" not found%' THEN 'ServiceAccountMissing'
            WHEN message LIKE '%admission webhook%denied%' THEN 'AdmissionDenied'
            WHEN message LIKE '%violates PodSecurity%' THEN 'PodSecurityViolation'
            ELSE 'FailedCreate' END AS reason,
       1.0 AS weight
FROM events
WHERE object_kind IN ('ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicationController', 'Deployment')
  AND (reason = 'FailedCreate' OR event_type = 'k8s.workload.replica_failure')
