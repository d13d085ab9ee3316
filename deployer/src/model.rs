//! The desired state as plain values: what `render` builds from the config
//! and what `aws::*` reads back into the same types, so that a diff is a
//! field-by-field comparison. A leaf: it imports only `names`.

pub mod alarm;
mod base;
mod diff;
mod identity;
mod job;
mod retry;

pub use alarm::*;
pub use base::*;
pub use diff::*;
pub use identity::*;
pub use job::*;
pub use retry::*;
