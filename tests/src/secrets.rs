//! Secrets Manager secrets, SSM parameters and KMS keys in the emulator,
//! made the way a team would before pointing a config at them.

use serde_json::{json, Value};

use crate::emulator::Emulator;

impl Emulator {
    /// Creates a secret holding `text`; its ARN (with the six characters
    /// Secrets Manager appends).
    pub async fn create_secret(&self, name: &str, text: &str) -> String {
        let answer = self
            .json_call_ok(
                "secretsmanager",
                "secretsmanager.CreateSecret",
                json!({ "Name": name, "SecretString": text }),
            )
            .await;
        answer["ARN"]
            .as_str()
            .expect("CreateSecret gives the ARN")
            .to_string()
    }

    /// Creates an encrypted parameter holding `value`; its ARN.
    pub async fn put_parameter(&self, name: &str, value: &str) -> String {
        self.json_call_ok(
            "ssm",
            "AmazonSSM.PutParameter",
            json!({ "Name": name, "Value": value, "Type": "SecureString" }),
        )
        .await;
        let answer = self
            .json_call_ok("ssm", "AmazonSSM.GetParameter", json!({ "Name": name }))
            .await;
        answer["Parameter"]["ARN"]
            .as_str()
            .expect("GetParameter gives the ARN")
            .to_string()
    }

    /// Creates a customer KMS key with the alias `alias` (`alias/...`);
    /// the key's ARN.
    pub async fn create_kms_key(&self, alias: &str) -> String {
        let answer = self
            .json_call_ok("kms", "TrentService.CreateKey", json!({}))
            .await;
        let key = &answer["KeyMetadata"];
        self.json_call_ok(
            "kms",
            "TrentService.CreateAlias",
            json!({ "AliasName": alias, "TargetKeyId": key["KeyId"] }),
        )
        .await;
        key["Arn"]
            .as_str()
            .expect("CreateKey gives the ARN")
            .to_string()
    }

    async fn json_call_ok(&self, service: &str, target: &str, input: Value) -> Value {
        let answer = self.json_call(service, target, &input).await;
        assert_eq!(answer.status, 200, "{target}: {}", answer.body);
        answer.json()
    }
}
