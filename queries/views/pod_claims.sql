-- pod_claims: the PersistentVolumeClaims each pod mounts: how many, and one of them (the
-- only one when `n = 1`). Read by: volume-failure.
SELECT from_namespace AS ns, from_name AS pod, MIN(to_name) AS pvc, COUNT(*) AS n
FROM topology WHERE relation = 'claims' GROUP BY from_namespace, from_name
