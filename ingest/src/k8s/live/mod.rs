//! The live Kubernetes collector: kube-rs watchers (with backoff, relisting after `410
//! Gone`) feed a [`LiveStore`] that turns every change into events and keeps the
//! time-versioned relationship map and the enrichment map current.

mod collector;
mod diff;
mod store;
mod watch;

pub use collector::{Enricher, K8sOptions, KubernetesCollector, Topology};
pub use diff::transitions;
pub use store::{Change, LiveStore, Op, Refresh, StoreStats};
pub use watch::{RESOURCES, client};
