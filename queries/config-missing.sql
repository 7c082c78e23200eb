-- config-missing: a pod references a ConfigMap, Secret or key that does not exist.
-- Trigger: kubelet Event `Failed` "Error: configmap \"x\" not found" / "Error: secret \"x\"
--   not found" / "Error: couldn't find key K in ConfigMap ns/x" (container waiting in
--   `CreateContainerConfigError`), and `FailedMount` "MountVolume.SetUp failed for volume
--   \"v\" : configmap \"x\" not found".
-- Evidence weight: conclusive.
-- Subject: the missing ConfigMap or Secret.
SELECT event_id,
       split_part(missing_ref(message), '/', 1) AS subject_kind,
       object_namespace AS subject_namespace,
       split_part(missing_ref(message), '/', 2) AS subject_name,
       CASE WHEN message LIKE '%couldn''t find key%' THEN split_part(missing_ref(message), '/', 1) || 'KeyMissing'
            ELSE split_part(missing_ref(message), '/', 1) || 'Missing' END AS reason,
       1.0 AS weight
FROM events
WHERE object_kind = 'Pod'
  AND (reason IN ('Failed', 'FailedMount', 'CreateContainerConfigError') OR event_type = 'k8s.container.waiting')
  AND missing_ref(message) IS NOT NULL
