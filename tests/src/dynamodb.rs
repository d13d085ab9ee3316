//! DynamoDB tables in the emulator, read through DynamoDB's JSON API (the
//! tests, like sjob, have no DynamoDB SDK crate): the claim tables of
//! `overlap = "skip"`.

use serde_json::{json, Value};

use crate::emulator::{Emulator, REGION};
use crate::http;

impl Emulator {
    /// DescribeTable's `Table` for `name`, `None` when there is no such
    /// table.
    pub async fn table(&self, name: &str) -> Option<Value> {
        let answer = self
            .dynamodb("DescribeTable", json!({ "TableName": name }))
            .await;
        answer.map(|a| a["Table"].clone())
    }

    /// The tags of the table `arn`, as `Key` / `Value` objects.
    pub async fn table_tags(&self, arn: &str) -> Vec<Value> {
        let answer = self
            .dynamodb("ListTagsOfResource", json!({ "ResourceArn": arn }))
            .await
            .unwrap_or_else(|| panic!("no table {arn}"));
        answer["Tags"].as_array().cloned().unwrap_or_default()
    }

    /// The execution holding the claim of the job `job_name` in `table`,
    /// read consistently; `None` when no run holds it.
    pub async fn claim_holder(&self, table: &str, job_name: &str) -> Option<String> {
        let input = json!({
            "TableName": table,
            "Key": { "job": { "S": job_name } },
            "ConsistentRead": true
        });
        let answer = self
            .dynamodb("GetItem", input)
            .await
            .unwrap_or_else(|| panic!("no table {table}"));
        answer["Item"]["holder"]["S"].as_str().map(str::to_string)
    }

    /// The answer to a DynamoDB call, `None` for ResourceNotFoundException.
    async fn dynamodb(&self, action: &str, input: Value) -> Option<Value> {
        let target = format!("DynamoDB_20120810.{action}");
        let response = http::send_json(self.port(), "dynamodb", REGION, &target, &input)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"));
        let body = String::from_utf8_lossy(&response.body).into_owned();
        if response.status == 400 && body.contains("ResourceNotFoundException") {
            return None;
        }
        assert_eq!(response.status, 200, "{action}: {body}");
        Some(
            serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{action}: not JSON ({e}): {body}")),
        )
    }
}
