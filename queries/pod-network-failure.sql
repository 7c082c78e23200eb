-- pod-network-failure: the CNI plugin cannot give pods a network.
-- Trigger: kubelet Event `FailedCreatePodSandBox` "Failed to create pod sandbox: rpc error:
--   ... failed to setup network for sandbox ...: plugin type=\"calico\" failed (add): ..."
--   (incl. IPAM "no IP addresses available in range set"); `NetworkNotReady` "network is
--   not ready: container runtime network not ready: NetworkReady=false
--   reason:NetworkPluginNotReady message:... cni plugin not initialized"; Node condition
--   NetworkUnavailable=True; kubelet journal errors naming NetworkPluginNotReady.
-- Evidence weight: a repeated sandbox failure or the node's network state is conclusive;
--   a single sandbox failure 0.6.
-- Subject: the node whose CNI fails.
SELECT event_id,
       'Node' AS subject_kind,
       '' AS subject_namespace,
       COALESCE(node, object_name) AS subject_name,
       CASE
         WHEN message LIKE '%no IP addresses available%' OR message LIKE '%failed to allocate%' THEN 'IPAddressesExhausted'
         WHEN message LIKE '%cni plugin not initialized%' OR message LIKE '%NetworkPluginNotReady%' OR event_type = 'k8s.node.network_unavailable' THEN 'NetworkPluginNotReady'
         ELSE 'SandboxNetworkSetupFailed'
       END AS reason,
       CASE WHEN count >= 2 OR object_kind = 'Node' OR reason = 'NetworkNotReady' THEN 1.0 ELSE 0.6 END AS weight
FROM events
WHERE COALESCE(node, '') <> '' AND (
       (reason = 'FailedCreatePodSandBox' AND (message LIKE '%network%' OR message LIKE '%CNI%' OR message LIKE '%cni%' OR message LIKE '%plugin type%'))
    OR reason = 'NetworkNotReady'
    OR event_type = 'k8s.node.network_unavailable'
    OR (event_type = 'kubelet.error' AND (message LIKE '%NetworkPluginNotReady%' OR message LIKE '%cni plugin not initialized%'))
)
