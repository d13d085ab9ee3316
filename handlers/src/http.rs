//! The SDK's HTTP client, with TLS set up on the first HTTPS request.
//!
//! The SDK's default client builds a TLS connector when a service client is
//! made, and building one loads and parses the system CA store: about 5 ms of
//! a cold start with Debian's `/etc/ssl/certs`, before any request. This
//! client sends `https://` requests through the SDK's default rustls
//! (aws-lc) client, which verifies certificates against the system store as
//! before, but builds it on the first such request; requests to a plain-HTTP
//! endpoint (a local emulator) never load the store.

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Builder;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

#[derive(Debug, Clone)]
pub struct TlsOnFirstUse {
    http: SharedHttpClient,
    https: SharedHttpClient,
}

impl TlsOnFirstUse {
    pub fn new() -> Self {
        TlsOnFirstUse {
            http: Builder::new().build_http(),
            https: Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .build_https(),
        }
    }
}

impl Default for TlsOnFirstUse {
    fn default() -> Self {
        TlsOnFirstUse::new()
    }
}

impl HttpClient for TlsOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(ByScheme {
            clients: self.clone(),
            settings: settings.clone(),
            components: components.clone(),
        })
    }
}

/// Picks the client by the request's scheme; each client caches its own
/// connectors, so the HTTPS one is built once, on first use.
#[derive(Debug)]
struct ByScheme {
    clients: TlsOnFirstUse,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
}

impl HttpConnector for ByScheme {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = if request.uri().starts_with("https:") {
            &self.clients.https
        } else {
            &self.clients.http
        };
        client
            .http_connector(&self.settings, &self.components)
            .call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use aws_config::retry::RetryConfig;
    use aws_config::BehaviorVersion;
    use aws_sdk_sns::config::{Credentials, Region};

    use super::*;

    /// The first bytes an SNS Publish sends to `scheme://` a local listener.
    async fn first_bytes(scheme: &str) -> Vec<u8> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("{scheme}://{}", listener.local_addr().expect("address"));
        let reader = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut bytes = [0u8; 4];
            stream.read_exact(&mut bytes).expect("read");
            bytes.to_vec()
        });
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-northeast-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .http_client(TlsOnFirstUse::new())
            .build();
        let publish = aws_sdk_sns::Client::from_conf(config)
            .publish()
            .topic_arn("arn:aws:sns:ap-northeast-1:123456789012:t")
            .message("m")
            .send();
        // The listener closes without answering: the call fails either way.
        let _ = publish.await;
        reader.join().expect("the reader")
    }

    #[tokio::test]
    async fn https_requests_go_through_tls_and_http_ones_do_not() {
        assert_eq!(first_bytes("http").await, b"POST");
        // 0x16: a TLS handshake record (the ClientHello).
        assert_eq!(first_bytes("https").await[0], 0x16);
    }
}
