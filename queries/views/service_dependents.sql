-- service_dependents: pods that depend on a Service (their environment names it:
-- `DB_HOST=mysql`, `http://api.shop:8080`) paired with each pod that Service selects, for
-- as long as the dependency holds. The upstream pods' failures reach the dependent pods.
-- Read by: cascading-failure, policy_blocked.
SELECT DISTINCT d.from_namespace AS ns, d.from_name AS pod,
       s.to_namespace AS up_ns, s.to_name AS up_pod,
       d.valid_from, d.valid_to
FROM topology d
JOIN topology s ON s.relation = 'selects' AND s.from_namespace = d.to_namespace AND s.from_name = d.to_name
WHERE d.relation = 'depends_on'
