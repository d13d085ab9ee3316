//! A secret's value, read the way ECS reads it for a task: a Secrets
//! Manager secret's `SecretString` (or one JSON key of it, at a version),
//! an SSM parameter's decrypted value. Only `sjob local run
//! --fetch-secrets` reads values, and only to hand them to the local
//! process; `plan` reads only whether each secret exists.

use aws_config::SdkConfig;
use serde_json::{json, Value};

use super::error::AwsError;
use super::signed::JsonClient;
use crate::secret::SecretSource;

/// Secrets Manager and SSM, called through [`JsonClient`] (two reads do
/// not justify two SDK crates in every build).
#[derive(Debug, Clone)]
pub struct Client {
    secrets_manager: JsonClient,
    ssm: JsonClient,
}

impl Client {
    pub fn new(config: &SdkConfig) -> Client {
        Client {
            secrets_manager: JsonClient::new(
                config,
                "secretsmanager",
                "Secrets Manager",
                "secretsmanager",
            ),
            ssm: JsonClient::new(config, "ssm", "SSM", "AmazonSSM"),
        }
    }

    /// The value `source` holds; `name` is the variable it is for, which
    /// an error names.
    pub async fn read(&self, name: &str, source: &SecretSource) -> Result<String, AwsError> {
        match source {
            SecretSource::SecretsManager {
                secret_arn,
                json_key,
                version_stage,
                version_id,
            } => {
                let mut input = json!({ "SecretId": secret_arn });
                if let Some(stage) = version_stage {
                    input["VersionStage"] = json!(stage);
                }
                if let Some(id) = version_id {
                    input["VersionId"] = json!(id);
                }
                let answer = self
                    .secrets_manager
                    .call("GetSecretValue", secret_arn, &input)
                    .await?;
                let Some(text) = answer["SecretString"].as_str() else {
                    return Err(AwsError::other(
                        "GetSecretValue",
                        secret_arn,
                        format!("{name}: the secret holds binary data, which a container variable cannot"),
                    ));
                };
                match json_key {
                    None => Ok(text.to_string()),
                    Some(key) => json_field(text, key).ok_or_else(|| {
                        AwsError::other(
                            "GetSecretValue",
                            secret_arn,
                            format!("{name}: the secret is not a JSON object with the key `{key}`"),
                        )
                    }),
                }
            }
            SecretSource::Parameter { parameter_arn } => {
                let input = json!({ "Names": [parameter_arn], "WithDecryption": true });
                let answer = self
                    .ssm
                    .call("GetParameters", parameter_arn, &input)
                    .await?;
                answer["Parameters"][0]["Value"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| {
                        AwsError::other(
                            "GetParameters",
                            parameter_arn,
                            format!("{name}: the parameter does not exist"),
                        )
                    })
            }
        }
    }

    /// Whether `source` exists, read without its value: Secrets Manager's
    /// `DescribeSecret`, SSM's `DescribeParameters` filtered by name.
    pub async fn exists(&self, source: &SecretSource) -> Result<bool, AwsError> {
        match source {
            SecretSource::SecretsManager { secret_arn, .. } => {
                let input = json!({ "SecretId": secret_arn });
                match self
                    .secrets_manager
                    .call("DescribeSecret", secret_arn, &input)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(err) if err.service_code() == Some("ResourceNotFoundException") => {
                        Ok(false)
                    }
                    Err(err) => Err(err),
                }
            }
            SecretSource::Parameter { parameter_arn } => {
                let filter = json!({
                    "Key": "Name",
                    "Option": "Equals",
                    "Values": parameter_names(parameter_arn),
                });
                let answer = self
                    .ssm
                    .call(
                        "DescribeParameters",
                        parameter_arn,
                        &json!({ "ParameterFilters": [filter] }),
                    )
                    .await?;
                Ok(answer["Parameters"]
                    .as_array()
                    .is_some_and(|found| !found.is_empty()))
            }
        }
    }
}

/// The names a parameter ARN can stand for. A hierarchical name's ARN drops
/// its leading `/` (`parameter/app/token` is `/app/token`); a one-level
/// name's ARN reads the same with or without it (`token`, `/token`).
fn parameter_names(arn: &str) -> Vec<String> {
    let path = arn.split_once(":parameter/").map_or(arn, |(_, path)| path);
    if path.contains('/') {
        vec![format!("/{path}")]
    } else {
        vec![path.to_string(), format!("/{path}")]
    }
}

/// One key of a JSON object, as ECS puts it in the variable: a string's
/// text, any other value's JSON.
fn json_field(text: &str, key: &str) -> Option<String> {
    let object: Value = serde_json::from_str(text).ok()?;
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_arn_names_its_hierarchical_name_or_both_one_level_names() {
        assert_eq!(
            parameter_names("arn:aws:ssm:eu-west-1:123456789012:parameter/myapp/token"),
            ["/myapp/token"]
        );
        assert_eq!(
            parameter_names("arn:aws:ssm:eu-west-1:123456789012:parameter/token"),
            ["token", "/token"]
        );
    }

    #[test]
    fn a_json_key_gives_a_strings_text_and_any_other_values_json() {
        let secret = r#"{"password":"p4ss","port":5432}"#;
        assert_eq!(json_field(secret, "password").as_deref(), Some("p4ss"));
        assert_eq!(json_field(secret, "port").as_deref(), Some("5432"));
        assert_eq!(json_field(secret, "user"), None);
        assert_eq!(json_field("not json", "password"), None);
    }
}
