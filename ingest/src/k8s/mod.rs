//! Kubernetes: Event objects, object state, the relationship map.

pub mod event;
pub mod map;
pub mod objects;
pub mod value;
