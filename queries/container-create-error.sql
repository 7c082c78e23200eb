-- container-create-error: the runtime cannot create or start the container (bad command,
-- missing binary, permissions, invalid mounts) — the image pulled, the config exists.
-- Trigger: container status waiting in `CreateContainerError` / `RunContainerError`, or
--   terminated with reason `StartError` (exit 128); kubelet Event `Failed` "Error: failed to
--   create containerd task: ... OCI runtime create failed: ... exec: \"x\": executable file
--   not found in $PATH" / "Error: container create failed: ..." (CRI-O).
-- Evidence weight: conclusive.
-- Subject: the workload.
SELECT event_id,
       COALESCE(workload_kind, object_kind) AS subject_kind,
       object_namespace AS subject_namespace,
       COALESCE(workload_name, object_name) AS subject_name,
       CASE
         WHEN message LIKE '%executable file not found%' OR message LIKE '%no such file or directory%' THEN 'ExecutableNotFound'
         WHEN message LIKE '%permission denied%' THEN 'PermissionDenied'
         ELSE 'CreateContainerError'
       END AS reason,
       1.0 AS weight
FROM events
WHERE object_kind = 'Pod'
  AND missing_ref(message) IS NULL
  AND (
       (event_type = 'k8s.container.waiting' AND reason IN ('CreateContainerError', 'RunContainerError'))
    OR (event_type = 'k8s.container.terminated' AND reason IN ('StartError', 'ContainerCannotRun'))
    OR (reason = 'Failed' AND (message LIKE 'Error: failed to create containerd task%'
                               OR message LIKE 'Error: failed to start container%'
                               OR message LIKE 'Error: container create failed%'
                               OR message LIKE '%OCI runtime create failed%'
                               OR message LIKE 'Error: CreateContainerError%'
                               OR message LIKE 'Error: RunContainerError%'))
  )
