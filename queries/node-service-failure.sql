-- node-service-failure: a node agent the pods depend on (kubelet, containerd, CRI-O,
-- docker, kube-proxy) fails under systemd.
-- Trigger: journald from systemd: "kubelet.service: Main process exited, code=exited,
--   status=1/FAILURE", "kubelet.service: Failed with result 'exit-code'.", "Failed to start
--   kubelet.service", "Scheduled restart job, restart counter is at N"; node-problem-detector
--   Events `KubeletIsDown` / `ContainerRuntimeIsDown`; kubelet Event `ContainerGCFailed`.
-- Evidence weight: a failure or exit is conclusive, a restart 0.5.
-- Subject: the node.
SELECT event_id,
       'Node' AS subject_kind,
       '' AS subject_namespace,
       COALESCE(node, object_name) AS subject_name,
       CASE
         WHEN attributes['unit'] LIKE 'kubelet%' OR reason = 'KubeletIsDown' THEN 'KubeletDown'
         WHEN attributes['unit'] LIKE 'kube-proxy%' THEN 'KubeProxyDown'
         ELSE 'ContainerRuntimeDown'
       END AS reason,
       CASE WHEN event_type = 'systemd.unit.restarting' THEN 0.5 ELSE 1.0 END AS weight
FROM events
WHERE (event_type IN ('systemd.unit.failed', 'systemd.unit.exited', 'systemd.unit.restarting')
       AND regexp_like(attributes['unit'], '^(kubelet|containerd|crio|docker|cri-docker|kube-proxy)\.service$'))
   OR (object_kind = 'Node' AND reason IN ('KubeletIsDown', 'ContainerRuntimeIsDown', 'ContainerGCFailed'))
