//! A secret's value, read the way ECS reads it for a task: a Secrets
//! Manager secret's `SecretString` (or one JSON key of it, at a version),
//! an SSM parameter's decrypted value. Only `sjob local run
//! --fetch-secrets` reads values, and only to hand them to the local
//! process.

use aws_config::SdkConfig;
use serde_json::{json, Value};

use super::signed::JsonClient;
use super::AwsError;
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
    fn a_json_key_gives_a_strings_text_and_any_other_values_json() {
        let secret = r#"{"password":"p4ss","port":5432}"#;
        assert_eq!(json_field(secret, "password").as_deref(), Some("p4ss"));
        assert_eq!(json_field(secret, "port").as_deref(), Some("5432"));
        assert_eq!(json_field(secret, "user"), None);
        assert_eq!(json_field("not json", "password"), None);
    }
}
