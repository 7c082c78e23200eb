//! Kubernetes: Event objects, object state, the relationship map.

pub mod event;
pub mod impact;
pub mod live;
pub mod map;
pub mod objects;
pub mod value;
