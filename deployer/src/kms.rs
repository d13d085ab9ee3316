//! A KMS key as a config names it: a key ARN, a key id, an alias name or an
//! alias ARN, the four forms AWS accepts wherever it takes a key. Only a key
//! ARN can stand in a policy's `Resource`: an alias there matches nothing
//! (IAM authorizes against the key), and a bare id or alias name is no ARN
//! at all. So every key a policy names is a key ARN: given as one, built
//! from a key id (which names a key of the caller's account and region), or
//! resolved from an alias by `kms:DescribeKey` (`aws::kms`) before any
//! policy is written.

use crate::target::Target;

/// What the config may give, for its diagnostics.
pub const KEY_FORMS: &str = "a key ARN (arn:aws:kms:<region>:<account>:key/<key id>), a key id (a UUID or mrk-<32 hex digits>), an alias name (alias/<name>) or an alias ARN (arn:aws:kms:<region>:<account>:alias/<name>)";

/// The alias prefix AWS reserves for the keys it manages.
const AWS_MANAGED_ALIAS: &str = "alias/aws/";

/// Which of AWS's four forms a key is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    KeyArn,
    KeyId,
    AliasName,
    AliasArn,
}

/// The key an alias or id stands for, as `kms:DescribeKey` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKey {
    pub arn: String,
    /// `KeyManager` is `AWS`: the key's own policy lets the account's
    /// principals use it through its service, and no IAM grant is needed
    /// (nor, for a key AWS manages, possible to scope in its policy).
    pub aws_managed: bool,
}

/// A key in any of its forms, with the key it was resolved to, if it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    given: String,
    form: KeyForm,
    resolved: Option<ResolvedKey>,
}

impl KmsKey {
    /// The key `text` names, or `None` when it is in none of the four forms.
    pub fn parse(text: &str) -> Option<KmsKey> {
        let form = if let Some((_, resource)) = split_arn(text) {
            match resource.split_once('/') {
                Some(("key", id)) if is_key_id(id) => KeyForm::KeyArn,
                Some(("alias", name)) if is_alias_name(name) && resource.len() <= 256 => {
                    KeyForm::AliasArn
                }
                _ => return None,
            }
        } else if is_key_id(text) {
            KeyForm::KeyId
        } else if text
            .strip_prefix("alias/")
            .is_some_and(|name| is_alias_name(name) && text.len() <= 256)
        {
            KeyForm::AliasName
        } else {
            return None;
        };
        Some(KmsKey {
            given: text.to_string(),
            form,
            resolved: None,
        })
    }

    /// The text the config gives.
    pub fn given(&self) -> &str {
        &self.given
    }

    pub fn form(&self) -> KeyForm {
        self.form
    }

    /// This key, resolved to `key`.
    pub fn resolved_to(mut self, key: ResolvedKey) -> KmsKey {
        self.resolved = Some(key);
        self
    }

    /// The region its ARN names; `None` for an id or an alias name, which
    /// name a key of the caller's region.
    pub fn region(&self) -> Option<&str> {
        split_arn(&self.given).map(|(head, _)| head.split(':').nth(3).unwrap_or_default())
    }

    /// The key's ARN: as resolved, else as the config gives it without
    /// asking AWS (a key ARN, or a key id in `target`'s account and region);
    /// `None` for an alias not resolved yet.
    pub fn key_arn(&self, target: &Target) -> Option<String> {
        match (&self.resolved, self.form) {
            (Some(resolved), _) => Some(resolved.arn.clone()),
            (None, KeyForm::KeyArn) => Some(self.given.clone()),
            (None, KeyForm::KeyId) => Some(target.arn("kms", &format!("key/{}", self.given))),
            (None, KeyForm::AliasName | KeyForm::AliasArn) => None,
        }
    }

    /// Whether AWS manages the key: as resolved, else whether its alias is
    /// one AWS reserves (`alias/aws/sns`).
    pub fn is_aws_managed(&self) -> bool {
        match &self.resolved {
            Some(resolved) => resolved.aws_managed,
            None => match self.form {
                KeyForm::AliasName => self.given.starts_with(AWS_MANAGED_ALIAS),
                KeyForm::AliasArn => self.given.contains(&format!(":{AWS_MANAGED_ALIAS}")),
                KeyForm::KeyArn | KeyForm::KeyId => false,
            },
        }
    }

    /// The key ARN a policy must grant the key's use on: `None` for a key
    /// AWS manages, which needs no grant, and for an alias not resolved yet.
    pub fn grant_arn(&self, target: &Target) -> Option<String> {
        if self.is_aws_managed() {
            return None;
        }
        self.key_arn(target)
    }

    /// What a resource's key setting holds (the topic's `KmsMasterKeyId`):
    /// the key ARN of a customer key, so that the resource and the policies
    /// that grant its use name the same key even when an alias is later
    /// moved to another; the given text of a key AWS manages, which cannot
    /// move.
    pub fn setting(&self, target: &Target) -> String {
        self.grant_arn(target).unwrap_or_else(|| self.given.clone())
    }
}

/// `(arn:<partition>:kms:<region>:<account>, resource)` of a KMS ARN.
fn split_arn(text: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    let valid = arn == "arn"
        && partition.starts_with("aws")
        && service == "kms"
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit());
    valid.then(|| (&text[..text.len() - resource.len() - 1], resource))
}

/// A key id: a UUID, or a multi-Region key's `mrk-` and 32 hex digits.
fn is_key_id(id: &str) -> bool {
    let hex = |s: &str, len: usize| s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(digits) = id.strip_prefix("mrk-") {
        return hex(digits, 32);
    }
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| hex(group, len))
}

/// What follows `alias/`: letters, digits, `/`, `_` and `-` (KMS's
/// `AliasNameType`).
fn is_alias_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const MRK: &str = "mrk-1234abcd12ab34cd56ef1234567890ab";

    fn target() -> Target {
        Target {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    fn form(text: &str) -> Option<KeyForm> {
        KmsKey::parse(text).map(|k| k.form())
    }

    #[test]
    fn each_of_the_four_forms_is_recognised() {
        let key_arn = format!("arn:aws:kms:eu-west-1:123456789012:key/{ID}");
        assert_eq!(form(&key_arn), Some(KeyForm::KeyArn));
        assert_eq!(
            form(&format!("arn:aws-cn:kms:cn-north-1:123456789012:key/{MRK}")),
            Some(KeyForm::KeyArn)
        );
        assert_eq!(form(ID), Some(KeyForm::KeyId));
        assert_eq!(form(MRK), Some(KeyForm::KeyId));
        assert_eq!(form("alias/team/reports_key-1"), Some(KeyForm::AliasName));
        assert_eq!(form("alias/aws/sns"), Some(KeyForm::AliasName));
        assert_eq!(
            form("arn:aws:kms:eu-west-1:123456789012:alias/team"),
            Some(KeyForm::AliasArn)
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            "my-key",
            "alias/",
            "alias/with space",
            "alias/dot.ted",
            "1234abcd-12ab-34cd-56ef-1234567890a",
            "1234abcd-12ab-34cd-56ef-1234567890ag",
            "mrk-1234",
            "key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:key/not-a-key-id",
            "arn:aws:kms:eu-west-1:123456789012:key/",
            "arn:aws:kms:eu-west-1:1234:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:sns:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:alias/",
            "arn:aws:kms:eu-west-1:123456789012:grant/x",
            "arn:aws:kms::123456789012:alias/team",
        ] {
            assert_eq!(form(text), None, "{text:?}");
        }
        let long = format!("alias/{}", "a".repeat(251));
        assert_eq!(form(&long), None, "257 characters");
        assert_eq!(form(&long[..256]), Some(KeyForm::AliasName));
    }

    #[test]
    fn a_key_arn_or_id_gives_its_arn_without_aws_and_an_alias_only_once_resolved() {
        let arn = format!("arn:aws:kms:eu-west-1:123456789012:key/{ID}");
        let by_id = KmsKey::parse(ID).unwrap();
        assert_eq!(by_id.key_arn(&target()), Some(arn.clone()));
        assert_eq!(by_id.region(), None);
        let by_arn = KmsKey::parse(&arn).unwrap();
        assert_eq!(by_arn.key_arn(&target()), Some(arn.clone()));
        assert_eq!(by_arn.region(), Some("eu-west-1"));

        let alias = KmsKey::parse("arn:aws:kms:eu-west-1:123456789012:alias/team").unwrap();
        assert_eq!(alias.key_arn(&target()), None);
        assert_eq!(alias.grant_arn(&target()), None);
        let resolved = alias.resolved_to(ResolvedKey {
            arn: arn.clone(),
            aws_managed: false,
        });
        assert_eq!(resolved.grant_arn(&target()), Some(arn.clone()));
        assert_eq!(resolved.setting(&target()), arn);
        assert_eq!(
            resolved.given(),
            "arn:aws:kms:eu-west-1:123456789012:alias/team"
        );
    }

    #[test]
    fn a_key_aws_manages_needs_no_grant_and_keeps_its_alias_as_the_setting() {
        let sns = KmsKey::parse("alias/aws/sns").unwrap();
        assert!(sns.is_aws_managed());
        assert_eq!(sns.grant_arn(&target()), None);
        let resolved = sns.resolved_to(ResolvedKey {
            arn: format!("arn:aws:kms:eu-west-1:123456789012:key/{ID}"),
            aws_managed: true,
        });
        assert_eq!(resolved.grant_arn(&target()), None);
        assert_eq!(resolved.setting(&target()), "alias/aws/sns");
        let customer = KmsKey::parse("alias/awsome").unwrap();
        assert!(!customer.is_aws_managed());
    }
}
