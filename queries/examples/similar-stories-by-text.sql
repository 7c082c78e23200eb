-- Similar stories computed in SQL with Tapio's functions, for any pair in the history
-- (also stories stored before the engine attached `similar_incidents`): a MinHash
-- signature of each story's pattern, root cause and masked summary, LSH band keys to
-- find candidate pairs without comparing all of them, then the similarity estimate.
WITH sig AS (
  SELECT id, title, first_seen,
         minhash(msg_template(concat_ws(' ', pattern, root_cause['kind'],
                                        root_cause['reason'], summary))) AS s
  FROM stories
),
band AS (
  SELECT id, unnest(lsh_bands(s, 16)) AS k FROM sig
),
pairs AS (
  SELECT DISTINCT a.id AS a, b.id AS b
  FROM band a JOIN band b ON a.k = b.k AND a.id < b.id
)
SELECT sa.title AS story, sb.title AS similar_story,
       sa.first_seen AS story_first_seen, sb.first_seen AS similar_first_seen,
       round(minhash_similarity(sa.s, sb.s), 2) AS similarity
FROM pairs p
JOIN sig sa ON sa.id = p.a
JOIN sig sb ON sb.id = p.b
WHERE minhash_similarity(sa.s, sb.s) >= 0.5
ORDER BY similarity DESC, story_first_seen;
