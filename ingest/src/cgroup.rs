//! Pod and container identity from a cgroup path, for every layout kubelet writes:
//! the systemd driver (`kubepods.slice/kubepods-burstable.slice/
//! kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope`,
//! `crio-<id>.scope`, `docker-<id>.scope`) and the cgroupfs driver
//! (`/kubepods/burstable/pod<uid>/<id>`), on cgroup v1 and v2 mounts alike.

use std::sync::LazyLock;

use regex::Regex;

/// What a kubepods cgroup path says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupIdentity {
    /// Pod UID with dashes.
    pub pod_uid: String,
    /// Container id (64 hex digits), when the path reaches the container.
    pub container_id: Option<String>,
    /// QoS class: `guaranteed`, `burstable` or `besteffort`.
    pub qos: String,
}

static POD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"kubepods(?:[./-](burstable|besteffort))?(?:\.slice)?/(?:kubepods-(?:burstable-|besteffort-)?)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:/(?:cri-containerd-|crio-|docker-|containerd-)?([0-9a-f]{64})(?:\.scope)?)?",
    )
    .expect("static regex")
});

/// Parses a cgroup path; `None` when it is not a Kubernetes pod's.
pub fn parse_cgroup(path: &str) -> Option<CgroupIdentity> {
    let c = POD.captures(path)?;
    Some(CgroupIdentity {
        pod_uid: c[2].replace('_', "-"),
        container_id: c.get(3).map(|m| m.as_str().to_string()),
        qos: c
            .get(1)
            .map(|m| m.as_str())
            .unwrap_or("guaranteed")
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4c8a4f2f0e7d9b1a3c5e7f9012345678abcdef0123456789abcdef0123456789";

    #[test]
    fn systemd_containerd() {
        let p = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8e2a1b7c_3d4e_4f5a_9b6c_7d8e9f0a1b2c.slice/cri-containerd-{ID}.scope"
        );
        let id = parse_cgroup(&p).unwrap();
        assert_eq!(id.pod_uid, "8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c");
        assert_eq!(id.container_id.as_deref(), Some(ID));
        assert_eq!(id.qos, "burstable");
    }

    #[test]
    fn systemd_guaranteed_crio() {
        let p = format!(
            "/kubepods.slice/kubepods-pod8e2a1b7c_3d4e_4f5a_9b6c_7d8e9f0a1b2c.slice/crio-{ID}.scope"
        );
        let id = parse_cgroup(&p).unwrap();
        assert_eq!(id.qos, "guaranteed");
        assert_eq!(id.container_id.as_deref(), Some(ID));
    }

    #[test]
    fn cgroupfs_v1() {
        let p = format!(
            "/sys/fs/cgroup/memory/kubepods/besteffort/pod8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c/{ID}"
        );
        let id = parse_cgroup(&p).unwrap();
        assert_eq!(id.pod_uid, "8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c");
        assert_eq!(id.qos, "besteffort");
        assert_eq!(id.container_id.as_deref(), Some(ID));
    }

    #[test]
    fn pod_level_and_foreign() {
        let id = parse_cgroup("/kubepods/pod8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c").unwrap();
        assert_eq!(id.container_id, None);
        assert!(parse_cgroup("/system.slice/kubelet.service").is_none());
        assert!(parse_cgroup("/user.slice/user-0.slice").is_none());
    }
}
