-- policy_blocked: pods whose traffic a NetworkPolicy can cut: the pods the policy selects,
-- and the pods that depend on a Service whose pods it selects, with the policy's creation
-- time. Read by: network-policy-block.
WITH policies AS (
  SELECT from_namespace AS ns, from_name AS policy, to_name AS pod, valid_from AS created
  FROM topology WHERE relation = 'policy_selects'
)
SELECT ns, pod, policy, ns AS policy_ns, created FROM policies
UNION
SELECT d.ns, d.pod, p.policy, p.ns AS policy_ns, p.created
FROM service_dependents d
JOIN policies p ON p.ns = d.up_ns AND p.pod = d.up_pod
