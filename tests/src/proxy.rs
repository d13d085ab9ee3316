//! A fault-injecting HTTP/1.1 proxy between an AWS SDK (sjob, a handler
//! binary) and the emulator. It forwards each request unchanged, or answers
//! it with a fault instead: the error bodies AWS gives for throttling and
//! server errors in the service's own protocol, a connection reset (before
//! the request reaches the emulator, or after, so the answer is lost), or a
//! slow answer.
//!
//! Which requests fail is decided per API action (`X-Amz-Target`, the
//! `Action=` form field, or the REST path), by a [`FaultPlan`]: a rate of
//! random faults from a seeded generator, and/or fixed faults on the Nth call
//! of an action. A random decision depends only on the seed, the action and
//! how many times that action was called before, so a sequential client sees
//! the same faults on every run; concurrent calls of one action may swap
//! their order.
//!
//! One request per client connection: each answer carries `Connection:
//! close`, so a reset never hits a pooled connection mid-way.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The caller a [`Fault::NotAuthorized`] denies.
pub const DENIED_CALLER: &str = "arn:aws:sts::123456789012:assumed-role/sjob-deployer/e2e";

/// What the proxy does instead of (or besides) forwarding a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 `Throttling` (Query protocol) / `ThrottlingException` (JSON):
    /// what IAM, SNS, Step Functions and CloudWatch Logs send when throttled.
    Throttle,
    /// HTTP 429 `TooManyRequestsException`, as the REST services send it.
    TooManyRequests,
    /// HTTP 500 `InternalFailure`.
    InternalError,
    /// HTTP 503 `ServiceUnavailable`.
    Unavailable,
    /// HTTP 403 `AccessDenied` / `AccessDeniedException` / SNS's
    /// `AuthorizationError`: an error the SDK does not retry.
    Denied,
    /// [`Fault::Denied`] worded as AWS denies a caller a permission:
    /// "User: <the caller> is not authorized to perform: <permission> on
    /// resource: <resource> because no identity-based policy allows the
    /// <permission> action".
    NotAuthorized {
        permission: String,
        resource: String,
    },
    /// The connection is reset before the request reaches the emulator.
    Reset,
    /// The request is carried out, then the connection is reset: the client
    /// never sees the answer of a call that took effect.
    ResetAfterForward,
    /// The answer is held back this long, then the request is forwarded.
    Slow(Duration),
    /// The request waits until the gate opens, then is forwarded: the test
    /// acts between what a command read and what it writes.
    Hold(Gate),
}

/// Holds requests until it is opened; every clone is the same gate.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Default for Gate {
    /// Closed.
    fn default() -> Gate {
        Gate(Arc::new(watch::channel(false).0))
    }
}

impl Gate {
    /// Lets every held request, and every later one, through.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn passed(&self) {
        let _ = self.0.subscribe().wait_for(|open| *open).await;
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Gate {}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gate(open: {})", *self.0.borrow())
    }
}

impl Fault {
    /// Every fault kind, with slow answers of `slow`.
    pub fn all(slow: Duration) -> Vec<Fault> {
        vec![
            Fault::Throttle,
            Fault::TooManyRequests,
            Fault::InternalError,
            Fault::Unavailable,
            Fault::Reset,
            Fault::ResetAfterForward,
            Fault::Slow(slow),
        ]
    }
}

/// A fixed fault on some calls of one action.
#[derive(Debug, Clone)]
struct NthRule {
    action: String,
    /// 1-based call numbers of the action.
    calls: Vec<usize>,
    fault: Fault,
}

/// Which requests get which fault. The default injects nothing.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    seed: u64,
    rate: f64,
    mix: Vec<Fault>,
    only: Vec<String>,
    nth: Vec<NthRule>,
}

impl FaultPlan {
    /// Forward everything.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// Each call fails with probability `rate`, with a fault drawn from `mix`.
    pub fn random(seed: u64, rate: f64, mix: Vec<Fault>) -> FaultPlan {
        assert!(!mix.is_empty(), "a random plan needs faults to draw from");
        FaultPlan {
            seed,
            rate,
            mix,
            ..FaultPlan::default()
        }
    }

    /// Restricts random faults to these actions (`Publish` or `sns:Publish`).
    pub fn only(mut self, actions: &[&str]) -> FaultPlan {
        self.only = actions.iter().map(|a| a.to_string()).collect();
        self
    }

    /// `fault` on the `calls` (1-based) of `action` (`Publish` or `sns:Publish`).
    pub fn on_calls(mut self, action: &str, calls: &[usize], fault: Fault) -> FaultPlan {
        self.nth.push(NthRule {
            action: action.to_string(),
            calls: calls.to_vec(),
            fault,
        });
        self
    }

    fn decide(&self, call: &Call, occurrence: usize) -> Option<Fault> {
        if let Some(rule) = self
            .nth
            .iter()
            .find(|r| call.is(&r.action) && r.calls.contains(&occurrence))
        {
            return Some(rule.fault.clone());
        }
        if self.rate <= 0.0 || (!self.only.is_empty() && !self.only.iter().any(|a| call.is(a))) {
            return None;
        }
        // One generator per call and occurrence: the same plan faults the
        // same calls whatever order concurrent requests arrive in.
        let mut draw = fastrand::Rng::with_seed(
            self.seed
                ^ fnv1a(&call.key())
                ^ (occurrence as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        (draw.f64() < self.rate).then(|| self.mix[draw.usize(..self.mix.len())].clone())
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedCall {
    /// The signing name: `iam`, `sns`, `states`, `batch`, ...
    pub service: String,
    /// `CreateRole`, `Publish`, ...; see the module docs.
    pub action: String,
    pub fault: Option<Fault>,
}

/// A running proxy to `127.0.0.1:<upstream port>`, stopped on drop.
pub struct FaultProxy {
    endpoint: String,
    state: Arc<State>,
    calls: watch::Receiver<usize>,
    server: JoinHandle<()>,
}

struct State {
    upstream: u16,
    plan: Mutex<FaultPlan>,
    log: Mutex<Vec<ProxiedCall>>,
    occurrences: Mutex<HashMap<String, usize>>,
    calls: watch::Sender<usize>,
}

impl FaultProxy {
    /// A proxy to the emulator's `endpoint` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream_endpoint: &str, plan: FaultPlan) -> FaultProxy {
        let upstream = upstream_endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("not http://127.0.0.1:PORT: {upstream_endpoint}"));
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (sender, calls) = watch::channel(0);
        let state = Arc::new(State {
            upstream,
            plan: Mutex::new(plan),
            log: Mutex::new(Vec::new()),
            occurrences: Mutex::new(HashMap::new()),
            calls: sender,
        });
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = server_state.clone();
                tokio::spawn(async move {
                    let _ = serve(state, client).await;
                });
            }
        });
        FaultProxy {
            endpoint,
            state,
            calls,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Replaces the plan for requests from now on.
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.state.plan.lock().unwrap() = plan;
    }

    /// Every AWS request so far (harness endpoints excluded), oldest first.
    pub fn calls(&self) -> Vec<ProxiedCall> {
        self.state.log.lock().unwrap().clone()
    }

    /// How many requests of `action` (`CreateRole`) there were so far.
    pub fn count(&self, action: &str) -> usize {
        let log = self.state.log.lock().unwrap();
        log.iter().filter(|c| c.action == action).count()
    }

    /// The calls that got a fault.
    pub fn faulted(&self) -> Vec<ProxiedCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.fault.is_some())
            .collect()
    }

    /// Waits until `count` requests of `action` have arrived; false after
    /// `within`.
    pub async fn wait_for_action(&self, action: &str, count: usize, within: Duration) -> bool {
        let mut calls = self.calls.clone();
        tokio::time::timeout(within, calls.wait_for(|_| self.count(action) >= count))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until `count` AWS requests have arrived; false after `within`.
    pub async fn wait_for_calls(&self, count: usize, within: Duration) -> bool {
        let mut calls = self.calls.clone();
        tokio::time::timeout(within, calls.wait_for(|n| *n >= count))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the proxy knows about a request.
struct Call {
    service: String,
    action: String,
}

impl Call {
    fn key(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }

    /// `Publish` or `sns:Publish`, case-insensitively.
    fn is(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(&self.action) || name.eq_ignore_ascii_case(&self.key())
    }

    /// Query (XML) or JSON error bodies.
    fn query_protocol(&self) -> bool {
        matches!(self.service.as_str(), "iam" | "sns" | "sts" | "sqs")
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The service and action, or `None` for the harness's own endpoints.
    fn call(&self) -> Option<Call> {
        if self.path.starts_with("/_harness") || self.path.starts_with("/moto-api") {
            return None;
        }
        // `Credential=AKID/20240101/eu-west-1/iam/aws4_request`
        let service = self
            .header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("unknown")
            .to_string();
        let path = self.path.split('?').next().unwrap_or_default();
        let action = if let Some(target) = self.header("x-amz-target") {
            target.rsplit('.').next().unwrap_or(target).to_string()
        } else if let Some(action) = form_field(&self.body, "Action") {
            action
        } else if let Some(op) = path.strip_prefix("/v1/") {
            // Batch: POST /v1/registerjobdefinition, /v1/tags/{arn}, ...
            op.split('/').next().unwrap_or(op).to_string()
        } else if path == "/schedules" {
            "ListSchedules".to_string()
        } else if path.starts_with("/schedules/") {
            match self.method.as_str() {
                "GET" => "GetSchedule",
                "POST" => "CreateSchedule",
                "PUT" => "UpdateSchedule",
                "DELETE" => "DeleteSchedule",
                other => other,
            }
            .to_string()
        } else if path.ends_with("/invocations") {
            "Invoke".to_string()
        } else {
            format!("{} {path}", self.method)
        };
        Some(Call { service, action })
    }
}

/// A field of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
}

async fn serve(state: Arc<State>, client: TcpStream) -> io::Result<()> {
    let mut client = BufReader::new(client);
    let request = read_request(&mut client).await?;
    let Some(call) = request.call() else {
        let answer = forward(state.upstream, &request).await?;
        return client.get_mut().write_all(&answer).await;
    };
    let occurrence = {
        let mut occurrences = state.occurrences.lock().unwrap();
        let n = occurrences.entry(call.key()).or_default();
        *n += 1;
        *n
    };
    let fault = state.plan.lock().unwrap().decide(&call, occurrence);
    state.log.lock().unwrap().push(ProxiedCall {
        service: call.service.clone(),
        action: call.action.clone(),
        fault: fault.clone(),
    });
    state.calls.send_modify(|n| *n += 1);
    let client = client.get_mut();
    match fault {
        None => {
            let answer = forward(state.upstream, &request).await?;
            client.write_all(&answer).await
        }
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            let answer = forward(state.upstream, &request).await?;
            client.write_all(&answer).await
        }
        Some(Fault::Hold(gate)) => {
            gate.passed().await;
            let answer = forward(state.upstream, &request).await?;
            client.write_all(&answer).await
        }
        Some(Fault::Reset) => reset(client),
        Some(Fault::ResetAfterForward) => {
            forward(state.upstream, &request).await?;
            reset(client)
        }
        Some(fault) => client.write_all(&error_answer(&call, &fault)).await,
    }
}

/// Drops the connection with an RST instead of a FIN. (A zero linger does
/// not block on drop, which is what the deprecation warns about.)
#[allow(deprecated)]
fn reset(client: &TcpStream) -> io::Result<()> {
    client.set_linger(Some(Duration::ZERO))
}

/// The error answer AWS would give, in the service's protocol.
fn error_answer(call: &Call, fault: &Fault) -> Vec<u8> {
    let (status, reason, query_code, json_code) = match fault {
        Fault::Throttle => (400, "Bad Request", "Throttling", "ThrottlingException"),
        Fault::TooManyRequests => (
            429,
            "Too Many Requests",
            "TooManyRequestsException",
            "TooManyRequestsException",
        ),
        Fault::InternalError => (
            500,
            "Internal Server Error",
            "InternalFailure",
            "InternalFailure",
        ),
        Fault::Unavailable => (
            503,
            "Service Unavailable",
            "ServiceUnavailable",
            "ServiceUnavailableException",
        ),
        Fault::Denied if call.service == "sns" => (
            403,
            "Forbidden",
            "AuthorizationError",
            "AccessDeniedException",
        ),
        Fault::Denied | Fault::NotAuthorized { .. } => {
            (403, "Forbidden", "AccessDenied", "AccessDeniedException")
        }
        Fault::Reset | Fault::ResetAfterForward | Fault::Slow(_) | Fault::Hold(_) => {
            unreachable!("not an error answer")
        }
    };
    let message = match fault {
        Fault::NotAuthorized {
            permission,
            resource,
        } => format!(
            "User: {DENIED_CALLER} is not authorized to perform: {permission} on resource: \
             {resource} because no identity-based policy allows the {permission} action"
        ),
        _ => "injected by the sjob-e2e fault proxy".to_string(),
    };
    let (content_type, code, body) = if call.service == "ec2" {
        // EC2's own Query dialect: `<Response><Errors>`, and its own
        // throttling code.
        let code = match fault {
            Fault::Throttle => "RequestLimitExceeded",
            Fault::Denied | Fault::NotAuthorized { .. } => "UnauthorizedOperation",
            _ => query_code,
        };
        (
            "text/xml",
            code,
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>\
                 </Errors><RequestID>fault-proxy</RequestID></Response>"
            ),
        )
    } else if call.query_protocol() {
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        (
            "text/xml",
            query_code,
            format!(
                "<ErrorResponse xmlns=\"https://{}.amazonaws.com/doc/\"><Error><Type>{kind}</Type>\
                 <Code>{query_code}</Code><Message>{message}</Message></Error>\
                 <RequestId>fault-proxy</RequestId></ErrorResponse>",
                call.service
            ),
        )
    } else {
        (
            "application/x-amz-json-1.1",
            json_code,
            format!(r#"{{"__type":"{json_code}","message":"{message}"}}"#),
        )
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nx-amzn-ErrorType: {code}\r\n\
         x-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Request> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if reader.read_until(b'\n', &mut head).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut fields);
    if parsed
        .parse(&head)
        .map_err(|e| invalid(e.to_string()))?
        .is_partial()
    {
        return Err(invalid("an incomplete request head".into()));
    }
    let mut request = Request {
        method: parsed.method.unwrap_or_default().to_string(),
        path: parsed.path.unwrap_or_default().to_string(),
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line).await?;
            let size = match httparse::parse_chunk_size(&line) {
                Ok(httparse::Status::Complete((_, size))) => size as usize,
                _ => return Err(invalid(String::from_utf8_lossy(&line).into_owned())),
            };
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = request.header("content-length") {
        let length = length.parse().map_err(|e| invalid(format!("{e}")))?;
        request.body = vec![0; length];
        reader.read_exact(&mut request.body).await?;
    }
    Ok(request)
}

/// Sends the request to the emulator on a connection of its own and returns
/// the whole answer, marked `Connection: close`.
async fn forward(upstream: u16, request: &Request) -> io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).await?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (name, value) in &request.headers {
        if ![
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
        {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    server.write_all(head.as_bytes()).await?;
    server.write_all(&request.body).await?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await?;
    Ok(close_delimited(answer))
}

/// The answer with its `Connection` header replaced by `close`.
fn close_delimited(answer: Vec<u8>) -> Vec<u8> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut fields);
    let Ok(httparse::Status::Complete(body_start)) = parsed.parse(&answer) else {
        return answer;
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        parsed.code.unwrap_or(502),
        parsed.reason.unwrap_or_default()
    );
    for field in parsed
        .headers
        .iter()
        .filter(|h| !h.name.eq_ignore_ascii_case("connection"))
    {
        head.push_str(&format!(
            "{}: {}\r\n",
            field.name,
            String::from_utf8_lossy(field.value)
        ));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&answer[body_start..]);
    bytes
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
