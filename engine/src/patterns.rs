//! The pattern library: the SQL files in `queries/`, compiled into the binary, with the
//! specificity that decides which pattern's subject is the root cause when several match.

/// A failure pattern.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    /// Pattern id: the `.sql` file's name.
    pub id: &'static str,
    /// The query (see `queries/README.md` for its contract).
    pub sql: &'static str,
    /// Specificity: when signals of several patterns form one story, the subject of the
    /// most specific one is the root cause. Node-level causes explain the failures of
    /// their pods; a missing object explains the pods that need it; a pod-level symptom
    /// (crash loop, failing probe) explains least.
    pub priority: u8,
    /// The reason the pattern gives when its evidence does not say why (a back-off says
    /// that pulls fail, not that the tag is missing); a specific reason wins over it.
    pub generic: &'static str,
}

macro_rules! pattern {
    ($id:literal, $priority:expr) => {
        pattern!($id, $priority, "")
    };
    ($id:literal, $priority:expr, $generic:literal) => {
        Pattern {
            id: $id,
            sql: include_str!(concat!("../../queries/", $id, ".sql")),
            priority: $priority,
            generic: $generic,
        }
    };
}

/// Every pattern, most specific first.
pub const PATTERNS: &[Pattern] = &[
    pattern!("node-service-failure", 95),
    pattern!("system-oom", 92),
    pattern!("pod-network-failure", 88, "SandboxNetworkSetupFailed"),
    pattern!("node-pressure-eviction", 86),
    pattern!("node-not-ready", 85),
    pattern!("config-missing", 80),
    pattern!("volume-failure", 78, "ClaimPending"),
    pattern!("replicaset-create-failure", 76, "FailedCreate"),
    pattern!("network-policy-block", 74),
    pattern!("dns-failure", 72),
    pattern!("oom-killed", 70),
    pattern!("image-pull", 68, "ImagePullBackOff"),
    pattern!("container-create-error", 66, "CreateContainerError"),
    pattern!("init-failure", 64),
    pattern!("unschedulable", 62, "Unschedulable"),
    pattern!("job-failure", 60),
    pattern!("probe-failure", 50),
    pattern!("crashloop", 45),
    pattern!("service-no-endpoints", 40),
    pattern!("rollout-stuck", 30),
    // Never a root itself: it links downstream failures to the upstream one.
    pattern!("cascading-failure", 0),
];

/// The cascade pattern's id.
pub const CASCADE: &str = "cascading-failure";

/// A pattern by id.
pub fn pattern(id: &str) -> Option<&'static Pattern> {
    PATTERNS.iter().find(|p| p.id == id)
}

/// A topology view: a table derived from the topology alone (`queries/views/`). The
/// engine computes each view when the topology changes, not in every window, so patterns
/// join the window's few notable events with it instead of re-joining the whole topology.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// The table name patterns read: the `.sql` file's name.
    pub name: &'static str,
    /// The query over `topology` (and views listed before it).
    pub sql: &'static str,
}

macro_rules! view {
    ($name:literal) => {
        View {
            name: $name,
            sql: include_str!(concat!("../../queries/views/", $name, ".sql")),
        }
    };
}

/// Every topology view, in the order they are computed: a view may read those before it.
pub const VIEWS: &[View] = &[
    view!("service_dependents"),
    view!("policy_blocked"),
    view!("service_backing"),
    view!("service_placement"),
    view!("pod_claims"),
];
