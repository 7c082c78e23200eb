-- image-pull: the kubelet cannot pull a container image.
-- Trigger: kubelet Events `Failed` "Failed to pull image ..." / "Error: ErrImagePull",
--   `BackOff` "Back-off pulling image ...", `InspectFailed`, `ErrImageNeverPull`; container
--   status waiting in `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`.
-- Evidence weight: back-off, a waiting status, or a failure that retrying cannot fix (image
--   not found, invalid name, unauthorized) is conclusive; another single failed pull is 0.6
--   (registries blip).
-- Subject: the workload whose pod spec names the image.
SELECT event_id,
       COALESCE(workload_kind, object_kind) AS subject_kind,
       object_namespace AS subject_namespace,
       COALESCE(workload_name, object_name) AS subject_name,
       CASE
         WHEN reason = 'InvalidImageName' OR message LIKE '%InvalidImageName%' OR message LIKE '%invalid reference format%' THEN 'InvalidImageName'
         WHEN message LIKE '%not found%' OR message LIKE '%manifest unknown%' OR message LIKE '%NotFound%' THEN 'ImageNotFound'
         WHEN message LIKE '%unauthorized%' OR message LIKE '%authentication required%' OR message LIKE '%denied%' OR message LIKE '%403 Forbidden%' THEN 'ImagePullUnauthorized'
         WHEN message LIKE '%toomanyrequests%' OR message LIKE '%rate limit%' THEN 'RegistryRateLimited'
         ELSE 'ImagePullBackOff'
       END AS reason,
       CASE WHEN reason IN ('BackOff', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'InspectFailed')
              OR count >= 2
              OR message LIKE '%not found%' OR message LIKE '%manifest unknown%' OR message LIKE '%unauthorized%'
              OR message LIKE '%invalid reference format%' THEN 1.0 ELSE 0.6 END AS weight
FROM events
WHERE object_kind = 'Pod'
  AND (
       (reason = 'Failed' AND (message LIKE 'Failed to pull image%' OR message LIKE 'Error: ErrImagePull%' OR message LIKE 'Error: ImagePullBackOff%' OR message LIKE 'Error: InvalidImageName%'))
    OR (reason = 'BackOff' AND message LIKE 'Back-off pulling image%')
    OR reason IN ('InspectFailed', 'ErrImageNeverPull')
    OR (event_type = 'k8s.container.waiting' AND reason IN ('ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'))
  )
