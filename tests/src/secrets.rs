//! Secrets Manager secrets, SSM parameters and KMS keys in the emulator,
//! made the way a team would before pointing a config at them.

use serde_json::{json, Value};

use crate::emulator::{Emulator, REGION};
use crate::http;

impl Emulator {
    /// Creates a secret holding `text`; its ARN (with the six characters
    /// Secrets Manager appends).
    pub async fn create_secret(&self, name: &str, text: &str) -> String {
        let answer = self
            .json_call(
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
        self.json_call(
            "ssm",
            "AmazonSSM.PutParameter",
            json!({ "Name": name, "Value": value, "Type": "SecureString" }),
        )
        .await;
        let answer = self
            .json_call("ssm", "AmazonSSM.GetParameter", json!({ "Name": name }))
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
            .json_call("kms", "TrentService.CreateKey", json!({}))
            .await;
        let key = &answer["KeyMetadata"];
        self.json_call(
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

    async fn json_call(&self, service: &str, target: &str, input: Value) -> Value {
        let response = http::send_json(self.port(), service, REGION, target, &input)
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let body = String::from_utf8_lossy(&response.body).into_owned();
        assert_eq!(response.status, 200, "{target}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {body}"))
    }
}
