//! A job secret (`secrets = { NAME = "ARN" }`): the ARN the job definition's
//! `valueFrom` takes, what the task execution role must be granted to read
//! it, and what reading it takes. sjob never holds a secret's value except
//! in `sjob local run`, which passes it to the local process only.

/// Where a secret's value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A Secrets Manager secret, optionally one JSON key of it and a version
    /// (`arn:...:secret:NAME[:json-key:version-stage:version-id]`).
    SecretsManager {
        /// The secret's ARN, without the key and version fields.
        secret_arn: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
    /// An SSM Parameter Store parameter (`arn:...:parameter/NAME`).
    Parameter { parameter_arn: String },
}

impl SecretSource {
    /// Reads a Secrets Manager or SSM parameter ARN; `None` for anything else.
    pub fn parse(arn: &str) -> Option<SecretSource> {
        let parts: Vec<&str> = arn.split(':').collect();
        let valid_head = |service: &str| {
            parts.len() >= 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == service
                && !parts[3].is_empty()
                && parts[4].len() == 12
                && parts[4].chars().all(|c| c.is_ascii_digit())
        };
        if valid_head("secretsmanager") {
            // secret:NAME, then at most json-key, version-stage, version-id.
            let (kind, name, rest) = (parts[5], parts.get(6)?, &parts[7..]);
            if kind != "secret" || name.is_empty() || rest.len() > 3 {
                return None;
            }
            let field = |i: usize| rest.get(i).filter(|f| !f.is_empty()).map(|f| f.to_string());
            return Some(SecretSource::SecretsManager {
                secret_arn: parts[..7].join(":"),
                json_key: field(0),
                version_stage: field(1),
                version_id: field(2),
            });
        }
        if valid_head("ssm") && parts.len() == 6 {
            let name = parts[5].strip_prefix("parameter/")?;
            return (!name.is_empty()).then(|| SecretSource::Parameter {
                parameter_arn: arn.to_string(),
            });
        }
        None
    }

    /// The resources the task execution role reads it through. A secret
    /// named without the six characters Secrets Manager appends to its ARN
    /// matches them with `-??????`, as AWS's guide to secret ARNs in IAM
    /// policies advises.
    pub fn grant(&self) -> String {
        match self {
            SecretSource::SecretsManager { secret_arn, .. } => {
                let name = secret_arn.rsplit(':').next().unwrap_or_default();
                let suffixed = name.rsplit_once('-').is_some_and(|(_, suffix)| {
                    suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric())
                });
                if suffixed {
                    secret_arn.clone()
                } else {
                    format!("{secret_arn}-??????")
                }
            }
            SecretSource::Parameter { parameter_arn } => parameter_arn.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbC123";

    #[test]
    fn secrets_manager_arns_keep_their_key_and_version_fields_apart() {
        assert_eq!(
            SecretSource::parse(&format!("{SECRET}:password:AWSCURRENT:")),
            Some(SecretSource::SecretsManager {
                secret_arn: SECRET.to_string(),
                json_key: Some("password".to_string()),
                version_stage: Some("AWSCURRENT".to_string()),
                version_id: None,
            })
        );
        let plain = SecretSource::parse(SECRET).unwrap();
        assert_eq!(plain.grant(), SECRET);
        let named =
            SecretSource::parse("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db")
                .unwrap();
        assert_eq!(
            named.grant(),
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-??????"
        );
    }

    #[test]
    fn parameters_and_other_arns() {
        let parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/myapp/db/password";
        assert_eq!(SecretSource::parse(parameter).unwrap().grant(), parameter);
        for bad in [
            "arn:aws:ssm:eu-west-1:123456789012:document/x",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            &format!("{SECRET}:a:b:c:d"),
            "arn:aws:s3:::bucket/key",
            "db-password",
        ] {
            assert_eq!(SecretSource::parse(bad), None, "{bad}");
        }
    }
}
