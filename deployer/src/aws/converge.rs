//! The paths every service converges through: create, or adopt what
//! already exists when it is this stack's, and bring tags to the desired.

use super::error::AwsError;
use crate::model::{Identity, Observed, Tags};

/// Creates a resource the plan found absent. When it turns out to exist
/// (a concurrent deploy, a listing that had not caught up, or another stack
/// that took the name since the plan), it is read: brought to the desired
/// state by `converge` when its identity is `ours`, left untouched with
/// [`AwsError::NotManaged`] when it is anyone else's. Every service creates
/// through this one path, so none can skip the ownership check.
pub async fn create_or_adopt<T, R, Read, Converge>(
    kind: &'static str,
    name: &str,
    ours: &Identity,
    create: impl std::future::Future<Output = Result<R, AwsError>>,
    read: impl FnOnce() -> Read,
    converge: impl FnOnce(T) -> Converge,
) -> Result<R, AwsError>
where
    Read: std::future::Future<Output = Result<Option<Observed<T>>, AwsError>>,
    Converge: std::future::Future<Output = Result<R, AwsError>>,
{
    let err = match create.await {
        Ok(created) => return Ok(created),
        Err(err) if err.is_already_exists() => err,
        Err(err) => return Err(err),
    };
    match read().await? {
        Some(found) if found.owner == *ours => {
            tracing::info!(kind, name, "exists already, as this stack's: converging it");
            converge(found.spec).await
        }
        Some(found) => Err(AwsError::NotManaged {
            kind,
            name: name.to_string(),
            owner: found.owner,
        }),
        // Deleted again since: the next deploy creates it.
        None => Err(err),
    }
}

/// Brings a resource's tags from `actual` to `desired`: `untag` removes the
/// stale keys (when there are any), then `tag` sets every desired tag.
pub async fn sync_tags<U, T>(
    desired: &Tags,
    actual: &Tags,
    untag: impl FnOnce(Vec<String>) -> U,
    tag: impl FnOnce() -> T,
) -> Result<(), AwsError>
where
    U: std::future::Future<Output = Result<(), AwsError>>,
    T: std::future::Future<Output = Result<(), AwsError>>,
{
    if desired == actual {
        return Ok(());
    }
    let stale: Vec<String> = actual
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .cloned()
        .collect();
    // Different keys: the two calls do not race.
    let untag = async {
        if stale.is_empty() {
            Ok(())
        } else {
            untag(stale).await
        }
    };
    tokio::try_join!(untag, tag())?;
    Ok(())
}

/// [`sync_tags`] for the services that tag by ARN with `TagResource` and
/// `UntagResource`: `$arn_setter` is the request's ARN field (`resource_arn`,
/// or Lambda's `resource`), `$tags` the desired tags in the service's shape,
/// `$label` what errors name.
macro_rules! sync_resource_tags {
    ($client:expr, $arn_setter:ident, $arn:expr, $label:expr, $desired:expr, $actual:expr, $tags:expr) => {
        $crate::aws::converge::sync_tags(
            $desired,
            $actual,
            |stale| async move {
                $client
                    .untag_resource()
                    .$arn_setter($arn)
                    .set_tag_keys(Some(stale))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| $crate::aws::error::AwsError::call("UntagResource", $label, e))
            },
            || async {
                $client
                    .tag_resource()
                    .$arn_setter($arn)
                    .set_tags(Some($tags))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| $crate::aws::error::AwsError::call("TagResource", $label, e))
            },
        )
    };
}
pub(crate) use sync_resource_tags;
