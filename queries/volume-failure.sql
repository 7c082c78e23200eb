-- volume-failure: storage cannot be provisioned, bound, attached or mounted.
-- Trigger: PVC Events `ProvisioningFailed` ("storageclass.storage.k8s.io \"fast\" not
--   found"), `FailedBinding` ("no persistent volumes available for this claim and no storage
--   class is set"); pod Events `FailedMount` (not a missing ConfigMap/Secret),
--   `FailedAttachVolume` ("Multi-Attach error for volume"), `FailedMapVolume`; scheduler
--   "pod has unbound immediate PersistentVolumeClaims" / "volume node affinity conflict";
--   a PVC in phase `Pending` or `Lost` (derived).
-- Evidence weight: provisioning/binding/attach errors are conclusive; one mount timeout or a
--   Pending PVC alone (WaitForFirstConsumer is normal) is weak.
-- Subject: the claim: the PVC itself, or the one PVC the failing pod mounts; else the workload.
SELECT e.event_id,
       CASE WHEN e.object_kind = 'PersistentVolumeClaim' THEN 'PersistentVolumeClaim'
            WHEN c.n = 1 THEN 'PersistentVolumeClaim'
            ELSE COALESCE(e.workload_kind, e.object_kind) END AS subject_kind,
       e.object_namespace AS subject_namespace,
       CASE WHEN e.object_kind = 'PersistentVolumeClaim' THEN e.object_name
            WHEN c.n = 1 THEN c.pvc
            ELSE COALESCE(e.workload_name, e.object_name) END AS subject_name,
       CASE
         WHEN e.message LIKE '%storageclass%not found%' THEN 'StorageClassNotFound'
         WHEN e.message LIKE '%Multi-Attach%' THEN 'MultiAttach'
         WHEN e.reason = 'FailedBinding' OR e.message LIKE '%unbound%PersistentVolumeClaims%' THEN 'ClaimNotBound'
         WHEN e.reason = 'ProvisioningFailed' THEN 'ProvisioningFailed'
         WHEN e.reason = 'FailedAttachVolume' THEN 'AttachFailed'
         WHEN e.event_type = 'k8s.pvc.lost' THEN 'VolumeLost'
         WHEN e.event_type = 'k8s.pvc.pending' THEN 'ClaimPending'
         ELSE 'MountFailed'
       END AS reason,
       CASE
         WHEN e.reason IN ('ProvisioningFailed', 'FailedBinding', 'FailedAttachVolume', 'FailedMapVolume') THEN 1.0
         WHEN e.event_type = 'k8s.pvc.lost' THEN 1.0
         WHEN e.event_type = 'k8s.pvc.pending' THEN 0.4
         WHEN e.count >= 2 THEN 1.0
         ELSE 0.5
       END AS weight
FROM events e
LEFT JOIN pod_claims c ON c.ns = e.object_namespace AND c.pod = e.object_name AND e.object_kind = 'Pod'
WHERE (e.reason IN ('ProvisioningFailed', 'FailedBinding', 'FailedAttachVolume', 'FailedMapVolume')
       OR (e.reason = 'FailedMount' AND missing_ref(e.message) IS NULL)
       OR (e.reason = 'FailedScheduling' AND (e.message LIKE '%unbound immediate PersistentVolumeClaims%' OR e.message LIKE '%volume node affinity conflict%'))
       OR e.event_type IN ('k8s.pvc.pending', 'k8s.pvc.lost'))
