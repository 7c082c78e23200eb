-- job-failure: a Job gives up.
-- Trigger: job-controller Events `BackoffLimitExceeded` "Job has reached the specified
--   backoff limit" and `DeadlineExceeded` "Job was active longer than specified deadline";
--   Job condition Failed=True (derived `k8s.job.failed`); the failed exits of its pods are
--   evidence (0.3 each).
-- Subject: the Job's top owner (its CronJob), else the Job.
SELECT event_id,
       COALESCE(workload_kind, object_kind) AS subject_kind,
       object_namespace AS subject_namespace,
       COALESCE(workload_name, object_name) AS subject_name,
       CASE WHEN reason = 'DeadlineExceeded' OR message LIKE '%deadline%' THEN 'DeadlineExceeded' ELSE 'BackoffLimitExceeded' END AS reason,
       CASE WHEN object_kind = 'Pod' THEN 0.3 ELSE 1.0 END AS weight
FROM events
WHERE (object_kind = 'Job' AND (reason IN ('BackoffLimitExceeded', 'DeadlineExceeded') OR event_type = 'k8s.job.failed'))
   OR (object_kind = 'Pod' AND workload_kind IN ('Job', 'CronJob') AND event_type = 'k8s.container.terminated' AND exit_code <> 0)
