-- dns-failure: names do not resolve.
-- Trigger: any message with Go's resolver wording "lookup <name> on <server>:53: ..." or
--   glibc's "Temporary failure in name resolution"; kubelet Event `DNSConfigForming`
--   ("Nameserver limits were exceeded") is a weak hint.
-- Evidence weight: 0.6 each (an app may retry), `DNSConfigForming` 0.2.
-- Subject: "no such host" means the name does not exist, a misconfiguration of the asking
--   workload; timeouts, refusals and "server misbehaving" blame cluster DNS (CoreDNS).
SELECT event_id,
       CASE WHEN message LIKE '%no such host%' THEN COALESCE(workload_kind, object_kind) ELSE 'Deployment' END AS subject_kind,
       CASE WHEN message LIKE '%no such host%' THEN object_namespace ELSE 'kube-system' END AS subject_namespace,
       CASE WHEN message LIKE '%no such host%' THEN COALESCE(workload_name, object_name) ELSE 'coredns' END AS subject_name,
       CASE WHEN message LIKE '%no such host%' THEN 'NameNotFound'
            WHEN reason = 'DNSConfigForming' THEN 'DNSConfigLimits'
            ELSE 'DNSServerUnreachable' END AS reason,
       CASE WHEN reason = 'DNSConfigForming' THEN 0.2 ELSE 0.6 END AS weight
FROM events
WHERE regexp_like(message, 'lookup \S+ on \S+:53: ')
   OR message LIKE '%Temporary failure in name resolution%'
   OR reason = 'DNSConfigForming'
