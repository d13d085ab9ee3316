//! Signed calls to the AWS APIs sjob has no generated SDK crate for: the
//! Query APIs (form-encoded request, XML answer) of EC2 and CloudWatch (the
//! missed-run alarms) and the JSON APIs of Secrets Manager and SSM
//! (`sjob local run --fetch-secrets`, and whether a job's secrets exist),
//! KMS and SQS (the keys and dead-letter queues a config names) and
//! DynamoDB (the claim tables of `overlap = "skip"`).
//!
//! sjob makes five EC2 calls, all for the one security group of
//! `[base.compute]`, while `aws-sdk-ec2` is the largest crate of every
//! build: it alone set the peak memory and much of the time of a fresh
//! build (docs/build.md); Secrets Manager and SSM are read once per local
//! run. The calls go through the same smithy orchestrator as the generated
//! clients (HTTPS client, timeouts, the standard retry strategy with the
//! SDK's throttling codes) and are signed by the SDK's own SigV4 auth scheme
//! with credentials from the clients' shared identity cache; only the
//! request and answer shapes are written here.

use std::borrow::Cow;

use aws_config::SdkConfig;
use aws_runtime::auth::sigv4::{SigV4AuthScheme, SCHEME_ID as SIGV4};
use aws_runtime::auth::SigV4OperationSigningConfig;
use aws_runtime::retries::classifiers::AwsErrorCodeClassifier;
use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime::client::retries::classifiers::{
    HttpStatusCodeClassifier, TransientErrorClassifier,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::auth::AuthSchemeOptionResolverParams;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::StaticRuntimePlugin;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::Layer;
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_xml::decode::{try_data, Document, ScopedDecoder, XmlDecodeError};
use aws_types::region::{Region, SigningRegion};
use aws_types::service_config::ServiceConfigKey;
use aws_types::SigningName;
use handlers::partition::Partition;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::error::AwsError;

/// One service (`service` is its signing name and endpoint prefix),
/// configured from the same [`SdkConfig`] as every SDK client: region,
/// credentials, retry and timeout settings, and endpoint overrides
/// (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`).
#[derive(Debug, Clone)]
struct Service {
    config: SdkConfig,
    service: &'static str,
    endpoint: Option<String>,
}

/// A request body and its headers, per protocol.
struct Request {
    content_type: &'static str,
    target: Option<String>,
    body: String,
}

impl Service {
    /// `service_id` is the SDK's service id (`EC2`), which names the
    /// service's endpoint variable and profile key.
    fn new(config: &SdkConfig, service: &'static str, service_id: &'static str) -> Service {
        let key = ServiceConfigKey::builder()
            .service_id(service_id)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .expect("every field of the key is set");
        let configured = config
            .service_config()
            .and_then(|services| services.load_config(key))
            .or_else(|| config.endpoint_url().map(str::to_string));
        let endpoint = configured.or_else(|| {
            let region = config.region()?.as_ref();
            let domain = Partition::of_region(region).dns_suffix();
            let fips = if config.use_fips() == Some(true) {
                "-fips"
            } else {
                ""
            };
            Some(format!("https://{service}{fips}.{region}.{domain}"))
        });
        Service {
            config: config.clone(),
            service,
            endpoint,
        }
    }

    /// Sends `request` for `action`; `read` turns a successful answer's
    /// body into the output, `error` an error answer's into its code and
    /// message. `resource` is what an error names.
    async fn send<O>(
        &self,
        action: &'static str,
        resource: &str,
        request: Request,
        read: fn(&str) -> Result<O, BoxError>,
        error: fn(&str, u16) -> ErrorMetadata,
    ) -> Result<O, AwsError>
    where
        O: std::fmt::Debug + Send + Sync + 'static,
    {
        let failed = |message: &str| AwsError::other(action, resource, message);
        let (Some(endpoint), Some(region)) = (&self.endpoint, self.config.region()) else {
            return Err(failed("no AWS region is configured"));
        };
        let signing = self
            .sigv4(region)
            .ok_or_else(|| failed("no AWS credentials are configured"))?;

        let retry = self
            .config
            .retry_config()
            .cloned()
            .unwrap_or_else(RetryConfig::standard);
        let mut operation = Operation::builder()
            .service_name(self.service)
            .operation_name(action)
            .endpoint_url(endpoint)
            .runtime_plugin(signing)
            .standard_retry(&retry)
            .retry_classifier(AwsErrorCodeClassifier::<ErrorMetadata>::new())
            .retry_classifier(HttpStatusCodeClassifier::default())
            .retry_classifier(TransientErrorClassifier::<ErrorMetadata>::new());
        if let Some(timeouts) = self.config.timeout_config() {
            operation = operation.timeout_config(timeouts.clone());
        }
        if let Some(http) = self.config.http_client() {
            operation = operation.http_client(http);
        }
        let (content_type, target) = (request.content_type, request.target);
        let operation = operation
            .serializer(move |body: String| {
                let mut request = HttpRequest::new(SdkBody::from(body));
                request.set_method("POST")?;
                request.set_uri("/")?;
                request.headers_mut().insert("Content-Type", content_type);
                if let Some(target) = &target {
                    request.headers_mut().insert("X-Amz-Target", target.clone());
                }
                Ok(request)
            })
            .deserializer(move |response: &HttpResponse| {
                let body = std::str::from_utf8(response.body().bytes().unwrap_or_default())
                    .map_err(|e| OrchestratorError::response(Box::new(e)))?;
                if !response.status().is_success() {
                    return Err(OrchestratorError::operation(error(
                        body,
                        response.status().as_u16(),
                    )));
                }
                read(body).map_err(OrchestratorError::response)
            })
            .build();
        operation
            .invoke(request.body)
            .await
            .map_err(|e| AwsError::call(action, resource, e))
    }
}

impl Service {
    /// SigV4 signing as the SDK's clients sign: each attempt signed at its
    /// send time by the SDK's own signer, with credentials from the
    /// configuration's identity cache. That cache is the one every SDK
    /// client of the configuration shares, so a profile that assumes a role
    /// (or signs in with SSO) makes one call for credentials per command,
    /// not one per request. `None` when no credentials are configured.
    fn sigv4(&self, region: &Region) -> Option<StaticRuntimePlugin> {
        let credentials = self.config.credentials_provider()?;
        let operation = SigV4OperationSigningConfig {
            region: Some(SigningRegion::from(region.clone())),
            name: Some(SigningName::from_static(self.service)),
            ..Default::default()
        };
        let mut config = Layer::new("sjob signed call");
        config.store_put(AuthSchemeOptionResolverParams::new(()));
        config.store_put(operation);
        let components = RuntimeComponentsBuilder::new("sjob signed call")
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                SIGV4,
            ])))
            .with_auth_scheme(SigV4AuthScheme::new())
            .with_identity_cache(self.config.identity_cache())
            .with_identity_resolver(SIGV4, credentials);
        Some(
            StaticRuntimePlugin::new()
                .with_config(config.freeze())
                .with_runtime_components(components),
        )
    }
}

/// A Query-protocol API (EC2's).
#[derive(Debug, Clone)]
pub struct QueryClient {
    service: Service,
    version: &'static str,
}

impl QueryClient {
    /// `service_id` is the SDK's service id (`EC2`); `version` the API's.
    pub fn new(
        config: &SdkConfig,
        service: &'static str,
        service_id: &'static str,
        version: &'static str,
    ) -> QueryClient {
        QueryClient {
            service: Service::new(config, service, service_id),
            version,
        }
    }

    /// Calls `action` with `params`; `parse` reads the XML of a successful
    /// answer. An error answer becomes [`AwsError::Call`] with the service's
    /// code; `resource` is what the error names.
    pub async fn call<O>(
        &self,
        action: &'static str,
        resource: &str,
        params: Params,
        parse: fn(&str) -> Result<O, XmlDecodeError>,
    ) -> Result<O, AwsError>
    where
        O: std::fmt::Debug + Send + Sync + 'static,
    {
        let request = Request {
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            target: None,
            body: params.encode(action, self.version),
        };
        // A plain fn pointer cannot capture `parse`: the XML reader runs
        // after the call, on the text it returns.
        let text = self
            .service
            .send(
                action,
                resource,
                request,
                |body| Ok(body.to_string()),
                xml_error_metadata,
            )
            .await?;
        parse(&text).map_err(|e| AwsError::other(action, resource, e.to_string()))
    }
}

/// A JSON API (`X-Amz-Target: <prefix>.<action>`): JSON 1.1 as Secrets
/// Manager's, SSM's and KMS's, or JSON 1.0 as SQS's and DynamoDB's.
#[derive(Debug, Clone)]
pub struct JsonClient {
    service: Service,
    target_prefix: &'static str,
    content_type: &'static str,
}

impl JsonClient {
    /// A JSON 1.1 API.
    pub fn new(
        config: &SdkConfig,
        service: &'static str,
        service_id: &'static str,
        target_prefix: &'static str,
    ) -> JsonClient {
        JsonClient {
            service: Service::new(config, service, service_id),
            target_prefix,
            content_type: "application/x-amz-json-1.1",
        }
    }

    /// The same API spoken in JSON 1.0, which differs only in its content
    /// type.
    pub fn json_1_0(self) -> JsonClient {
        JsonClient {
            content_type: "application/x-amz-json-1.0",
            ..self
        }
    }

    /// Calls `action` with `input`; the answer's JSON, or [`AwsError::Call`]
    /// with the service's error code.
    pub async fn call(
        &self,
        action: &'static str,
        resource: &str,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let request = Request {
            content_type: self.content_type,
            target: Some(format!("{}.{action}", self.target_prefix)),
            body: input.to_string(),
        };
        self.service
            .send(
                action,
                resource,
                request,
                |body| Ok(serde_json::from_str::<Value>(body)?),
                json_error_metadata,
            )
            .await
    }
}

/// A call's parameters, in order: `Name=value` pairs, lists numbered
/// from 1 (`Filter.1.Value.1`).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

/// What the Query protocol leaves unescaped: RFC 3986's unreserved set.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Params {
        self.0.push((name.into(), value.into()));
        self
    }

    pub(crate) fn encode(&self, action: &str, version: &str) -> String {
        [("Action", action), ("Version", version)]
            .into_iter()
            .chain(self.0.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(name, UNRESERVED),
                    utf8_percent_encode(value, UNRESERVED)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The code and message of a JSON 1.1 error answer: `__type` (after its
/// namespace's `#`) and `message` or `Message`.
fn json_error_metadata(body: &str, status: u16) -> ErrorMetadata {
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = answer["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
    let message = answer["message"]
        .as_str()
        .or_else(|| answer["Message"].as_str())
        .map(str::to_string);
    ErrorMetadata::builder()
        .code(code.unwrap_or_else(|| format!("HTTP {status}")))
        .message(message.unwrap_or_else(|| body.chars().take(200).collect()))
        .build()
}

/// The code and message of a Query-protocol error answer, in either
/// dialect: EC2's `<Response><Errors><Error>` and the
/// `<ErrorResponse><Error>` of IAM, SNS and STS.
fn xml_error_metadata(body: &str, status: u16) -> ErrorMetadata {
    let mut fields = Vec::new();
    let mut document = Document::new(body);
    if let Ok(mut root) = document.root_element() {
        // A malformed answer keeps what was read before the fault.
        let _ = collect_error(&mut root, &mut fields);
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    ErrorMetadata::builder()
        .code(field("Code").unwrap_or_else(|| format!("HTTP {status}")))
        .message(field("Message").unwrap_or_else(|| body.chars().take(200).collect()))
        .build()
}

fn collect_error(
    scope: &mut ScopedDecoder<'_, '_>,
    fields: &mut Vec<(String, String)>,
) -> Result<(), XmlDecodeError> {
    each_child(scope, |name, tag| match name {
        "Errors" | "Error" => collect_error(tag, fields),
        "Code" | "Message" => {
            fields.push((name.to_string(), text(tag)?));
            Ok(())
        }
        _ => Ok(()),
    })
}

/// `params` and `tags` as a Query API's numbered `{prefix}.N.Key` /
/// `{prefix}.N.Value` list (EC2's `Tag`, CloudWatch's `Tags.member`).
pub fn with_tags(params: Params, prefix: &str, tags: &crate::model::Tags) -> Params {
    tags.iter()
        .enumerate()
        .fold(params, |params, (n, (key, value))| {
            params
                .with(format!("{prefix}.{}.Key", n + 1), key)
                .with(format!("{prefix}.{}.Value", n + 1), value)
        })
}

/// For an answer with nothing to read.
pub fn parse_nothing(_xml: &str) -> Result<(), XmlDecodeError> {
    Ok(())
}

/// Reads the children of `scope`: `visit` gets each child's local name
/// and its decoder.
pub fn each_child<'inp>(
    scope: &mut ScopedDecoder<'inp, '_>,
    mut visit: impl FnMut(&str, &mut ScopedDecoder<'inp, '_>) -> Result<(), XmlDecodeError>,
) -> Result<(), XmlDecodeError> {
    while let Some(mut tag) = scope.next_tag() {
        let name = tag.start_el().local().to_string();
        visit(&name, &mut tag)?;
    }
    Ok(())
}

/// The texts of an element's two children named `names` (a tag's key and
/// value, a dimension's name and value); empty when absent.
pub fn pair(
    scope: &mut ScopedDecoder<'_, '_>,
    names: (&str, &str),
) -> Result<(String, String), XmlDecodeError> {
    let mut pair = (String::new(), String::new());
    each_child(scope, |name, part| {
        if name == names.0 {
            pair.0 = text(part)?;
        } else if name == names.1 {
            pair.1 = text(part)?;
        }
        Ok(())
    })?;
    Ok(pair)
}

/// The text of a leaf element.
pub fn text(scope: &mut ScopedDecoder<'_, '_>) -> Result<String, XmlDecodeError> {
    try_data(scope).map(Cow::into_owned)
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn an_ec2_error_answer_gives_its_code_and_message() {
        let ec2 = r#"<Response><Errors><Error><Code>InvalidGroup.Duplicate</Code><Message>The security group 'x' already exists</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        let error = xml_error_metadata(ec2, 400);
        assert_eq!(error.code(), Some("InvalidGroup.Duplicate"));
        assert_eq!(
            error.message(),
            Some("The security group 'x' already exists")
        );
    }

    #[test]
    fn an_iam_style_error_answer_gives_its_code_and_message() {
        let iam = r#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"#;
        let error = xml_error_metadata(iam, 400);
        assert_eq!(error.code(), Some("Throttling"));
        assert_eq!(error.message(), Some("Rate exceeded"));
    }

    #[test]
    fn a_json_error_answer_gives_its_code_without_namespace_and_its_message() {
        let answer = r#"{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}"#;
        let error = json_error_metadata(answer, 400);
        assert_eq!(error.code(), Some("ResourceNotFoundException"));
        assert_eq!(
            error.message(),
            Some("Secrets Manager can't find the specified secret.")
        );
        let ssm = json_error_metadata(r#"{"__type":"ParameterNotFound","message":"no"}"#, 400);
        assert_eq!(
            (ssm.code(), ssm.message()),
            (Some("ParameterNotFound"), Some("no"))
        );
    }

    #[test]
    fn an_answer_that_is_not_xml_keeps_its_status_and_text() {
        let error = xml_error_metadata("Service Unavailable", 503);
        assert_eq!(error.code(), Some("HTTP 503"));
        assert_eq!(error.message(), Some("Service Unavailable"));
    }

    #[test]
    fn tags_are_numbered_from_one_under_their_prefix() {
        let tags = crate::model::Tags::from([
            ("a".to_string(), "1".to_string()),
            ("b c".to_string(), "2/3".to_string()),
        ]);
        let params = with_tags(Params::new().with("ResourceId.1", "sg-1"), "Tag", &tags);
        assert_eq!(
            params.encode("CreateTags", "2016-11-15"),
            "Action=CreateTags&Version=2016-11-15&ResourceId.1=sg-1\
             &Tag.1.Key=a&Tag.1.Value=1&Tag.2.Key=b%20c&Tag.2.Value=2%2F3"
        );
    }
}
