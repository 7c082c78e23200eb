-- service_placement: the nodes the pods of each Service run on: how many, and one of them
-- (the only one when `nodes = 1`). Read by: service-no-endpoints.
SELECT s.from_namespace AS ns, s.from_name AS service,
       MIN(r.to_name) AS node, COUNT(DISTINCT r.to_name) AS nodes
FROM topology s
JOIN topology r ON r.relation = 'runs_on' AND r.from_namespace = s.from_namespace AND r.from_name = s.to_name
WHERE s.relation = 'selects'
GROUP BY s.from_namespace, s.from_name
