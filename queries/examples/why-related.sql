-- Why are two events related? Every story that holds both, and how each was linked to
-- it: the pattern that matched it, the dimension (`subject`: it names the root object;
-- `pod`/`workload`: it shares one with the evidence; `cascade`: it depends on the failing
-- root through a Service; `context`: the failing objects' own history), its evidence
-- weight, what each event said, and the time between them. Each event's link to the
-- story's root-cause event is also scored in five dimensions, 0..1 — temporal, spatial
-- (node, namespace), ownership (pod, workload, owner), dependency (through a Service),
-- semantic (same message template) — and combined into a confidence. Each signal also
-- names the earlier signal whose correlation-graph edge joined it to the story
-- (`joined_by`, `joined_confidence`); `direct_edge` is that edge's confidence when it
-- joins the two events themselves.
--
-- Put your two event ids in `pair` (from `SELECT event_id, reason, message FROM events`).
-- As written it takes the first two events of the latest story.
WITH latest AS (
  SELECT id FROM stories ORDER BY first_seen DESC, id LIMIT 1
),
ranked AS (
  SELECT c.event_id, row_number() OVER (ORDER BY c.event_time, c.event_id) AS n
  FROM correlations c JOIN latest l ON c.story_id = l.id
),
pair AS (
  SELECT (SELECT event_id FROM ranked WHERE n = 1) AS a,
         (SELECT event_id FROM ranked WHERE n = 2) AS b
)
SELECT s.title AS story,
       ca.event_id AS event_a, ca.pattern AS pattern_a, ca.dimension AS linked_a,
       ca.score AS weight_a, ea.reason AS reason_a, ea.message AS message_a,
       cb.event_id AS event_b, cb.pattern AS pattern_b, cb.dimension AS linked_b,
       cb.score AS weight_b, eb.reason AS reason_b, eb.message AS message_b,
       ca.subject AS blamed,
       ca.confidence AS confidence_a, cb.confidence AS confidence_b,
       cb.temporal AS temporal_b, cb.spatial AS spatial_b, cb.ownership AS ownership_b,
       cb.dependency AS dependency_b, cb.semantic AS semantic_b,
       ca.joined_by AS joined_a_by, cb.joined_by AS joined_b_by,
       CASE WHEN cb.joined_by = ca.event_id THEN cb.joined_confidence
            WHEN ca.joined_by = cb.event_id THEN ca.joined_confidence END AS direct_edge,
       (CAST(cb.event_time AS BIGINT) - CAST(ca.event_time AS BIGINT)) / 1000000000 AS seconds_apart
FROM pair p
JOIN correlations ca ON ca.event_id = p.a
JOIN correlations cb ON cb.event_id = p.b AND cb.story_id = ca.story_id
JOIN stories s ON s.id = ca.story_id
LEFT JOIN events ea ON ea.event_id = ca.event_id
LEFT JOIN events eb ON eb.event_id = cb.event_id
ORDER BY s.first_seen, ca.pattern, cb.pattern;
