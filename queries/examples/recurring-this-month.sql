-- Recurring incidents this month: the same root cause failing the same way (same
-- pattern, same object) more than once in the 30 days up to the newest story in the
-- history, with how often. For a live cluster, `now()` in place of the newest story's
-- time gives "the last 30 days".
WITH recent AS (
  SELECT pattern, root_cause['kind'] AS kind, root_cause['namespace'] AS namespace,
         root_cause['name'] AS name, first_seen
  FROM stories
  WHERE first_seen >= (SELECT max(first_seen) FROM stories) - INTERVAL '30 days'
)
SELECT pattern, kind, namespace, name,
       count(*) AS times,
       min(first_seen) AS first,
       max(first_seen) AS last,
       round((CAST(max(first_seen) AS DOUBLE) - CAST(min(first_seen) AS DOUBLE))
             / 3.6e12 / (count(*) - 1), 1) AS every_hours
FROM recent
GROUP BY pattern, kind, namespace, name
HAVING count(*) >= 2
ORDER BY times DESC, last DESC;
