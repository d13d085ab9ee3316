//! Calls of the AWS APIs the tests have no SDK crate for (STS, EC2,
//! CloudWatch, KMS, Secrets Manager, SSM, DynamoDB, the tagging API), sent
//! as given and answered as they come, errors included.

use serde_json::Value;

use crate::emulator::{Emulator, REGION};
use crate::http;

/// An answer: its HTTP status and body.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub body: String,
}

impl RawAnswer {
    /// The body as JSON (a JSON-protocol answer).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The text of each `<tag>` of an XML answer (a Query-protocol one).
    pub fn xml(&self, tag: &str) -> Vec<String> {
        http::xml_values(&self.body, tag)
    }
}

impl Emulator {
    /// Calls an action of a Query-protocol API (`service` is the name its
    /// requests are signed for: `sts`, `ec2`, `monitoring`, ...).
    pub async fn query_call(&self, service: &str, parameters: &[(&str, &str)]) -> RawAnswer {
        let response = http::send_query(self.port(), service, REGION, parameters)
            .await
            .unwrap_or_else(|e| panic!("{service} {parameters:?}: {e}"));
        answer(response)
    }

    /// Calls an operation of a JSON-protocol API by its `X-Amz-Target`.
    pub async fn json_call(&self, service: &str, target: &str, input: &Value) -> RawAnswer {
        let response = http::send_json(self.port(), service, REGION, target, input)
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        answer(response)
    }
}

fn answer(response: http::Response) -> RawAnswer {
    RawAnswer {
        status: response.status,
        body: String::from_utf8_lossy(&response.body).into_owned(),
    }
}
