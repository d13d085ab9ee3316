//! How a desired resource is compared with the one AWS has.

use super::identity::Identity;

/// A resource as it exists in AWS, and whose its tags say it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed<T> {
    pub spec: T,
    pub owner: Identity,
}

/// The names of the fields that differ, for plan output.
pub trait Diff {
    fn diff(&self, actual: &Self) -> Vec<String>;
}

/// Implements [`Diff`] by comparing the listed fields.
macro_rules! field_diff {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        impl $crate::model::diff::Diff for $ty {
            fn diff(&self, actual: &Self) -> Vec<String> {
                let mut fields = Vec::new();
                $(if self.$field != actual.$field { fields.push(stringify!($field).to_string()); })*
                fields
            }
        }
    };
}

pub(crate) use field_diff;
