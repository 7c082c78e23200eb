-- Incidents similar to a story. The engine attaches them as it tells the story
-- (`similar_incidents`): earlier incidents whose signature — pattern, root cause kind
-- and reason, workload kinds, and the story's messages with names, numbers and ids
-- masked — agrees on at least half of its 64 MinHash positions, most similar first.
--
-- Put your story id in `target`; as written it takes the latest story.
WITH target AS (
  SELECT id, title FROM stories ORDER BY first_seen DESC, id LIMIT 1
),
similar AS (
  SELECT t.id AS story, t.title AS story_title, unnest(s.similar_incidents) AS sim
  FROM stories s JOIN target t ON s.id = t.id
)
SELECT story, story_title,
       sim['id'] AS similar_id, sim['title'] AS similar_title,
       sim['first_seen'] AS similar_first_seen,
       round(sim['similarity'], 2) AS similarity
FROM similar
ORDER BY similarity DESC, similar_first_seen DESC;
