//! Just enough HTTP/1.1 for the harness endpoints and for a stand-in SNS
//! `http` subscriber: one request per connection, `Content-Length` bodies.
//! (No HTTP client crate is a direct dependency; driving the SDK's hyper
//! stack by hand would take more code than this.)

use std::io;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What `application/x-www-form-urlencoded` leaves unescaped.
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A response: status code and body.
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends one request to `127.0.0.1:port`, with a JSON body when given.
pub(crate) async fn send(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> io::Result<Response> {
    let body = body.map(Value::to_string).unwrap_or_default();
    request(port, method, path, "application/json", &[], &body).await
}

/// Calls an action of a Query-protocol AWS API (EC2, ...) on the emulator,
/// which routes by the credential scope of a SigV4 `Authorization` header
/// and checks no signature. The body is the XML answer.
pub(crate) async fn send_query(
    port: u16,
    service: &str,
    region: &str,
    parameters: &[(&str, &str)],
) -> io::Result<Response> {
    let form = parameters
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, FORM_VALUE),
                utf8_percent_encode(value, FORM_VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let authorization = unsigned_authorization(service, region);
    request(
        port,
        "POST",
        "/",
        "application/x-www-form-urlencoded; charset=utf-8",
        &[("Authorization", &authorization)],
        &form,
    )
    .await
}

/// The text of every `<tag>...</tag>` element of an XML answer, in
/// document order.
pub(crate) fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()))
        .map(|(value, _)| value.trim().to_string())
        .collect()
}

/// Calls an action of a JSON 1.1 AWS API (Secrets Manager, SSM, ...) on
/// the emulator, routed like [`send_query`]. The body is the JSON answer.
pub(crate) async fn send_json(
    port: u16,
    service: &str,
    region: &str,
    target: &str,
    input: &Value,
) -> io::Result<Response> {
    let authorization = unsigned_authorization(service, region);
    request(
        port,
        "POST",
        "/",
        "application/x-amz-json-1.1",
        &[("Authorization", &authorization), ("X-Amz-Target", target)],
        &input.to_string(),
    )
    .await
}

/// An `Authorization` header whose credential scope names `service` (what
/// the emulator routes by) and whose signature is none.
fn unsigned_authorization(service: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20240101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

async fn request(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n\
         {headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let (status_line, body) = read_message(&mut BufReader::new(stream)).await?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad_data(format!("not an HTTP status line: {status_line:?}")))?;
    Ok(Response { status, body })
}

/// Reads one message: its first line, then the body its headers announce.
async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> io::Result<(String, Vec<u8>)> {
    let mut first_line = String::new();
    reader.read_line(&mut first_line).await?;
    let mut content_length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(bad_data("connection closed inside the headers".into()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = value
                    .trim()
                    .parse()
                    .map_err(|_| bad_data(format!("bad Content-Length: {value}")))?;
            }
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).await?;
    Ok((first_line.trim_end().to_string(), body))
}

fn bad_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// An HTTP endpoint on 127.0.0.1 that answers `200 OK` to every request and
/// hands over the JSON bodies it got: what an SNS `http`/`https` subscriber
/// (a webhook, AWS Chatbot) would receive.
pub struct HttpSink {
    url: String,
    bodies: mpsc::UnboundedReceiver<Value>,
    server: JoinHandle<()>,
}

impl HttpSink {
    pub async fn bind() -> HttpSink {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (sender, bodies) = mpsc::unbounded_channel();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream);
                    if let Ok((_, body)) = read_message(&mut reader).await {
                        let _ = reader
                            .get_mut()
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                        let body = serde_json::from_slice(&body).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(&body).into_owned())
                        });
                        let _ = sender.send(body);
                    }
                });
            }
        });
        HttpSink {
            url,
            bodies,
            server,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next body received, waiting at most `within`.
    pub async fn next_body(&mut self, within: Duration) -> Value {
        tokio::time::timeout(within, self.bodies.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("nothing was posted to {} within {within:?}", self.url))
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}
