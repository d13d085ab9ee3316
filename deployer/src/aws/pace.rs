//! How many calls sjob has in flight to each AWS service, adapted to what
//! the service takes: every request passes a per-service gate whose limit
//! grows while calls succeed and halves when the service throttles
//! (additive increase, multiplicative decrease, as TCP paces a connection).
//!
//! The limit starts at [`START`], the number of jobs sjob used to converge
//! at once, and doubles each round trip (one more per success) until the
//! first throttle; after that it grows by one per round trip, up to [`MAX`].
//! One throttle halves it once: calls that were already in flight when it
//! was halved do not halve it again.
//!
//! A call that times out halves the limit too, and is then the SDK's to
//! retry.
//!
//! A throttled request never fails the command while a slower pace would
//! let it through: the gate sends it again, after a jittered backoff and
//! behind the requests already waiting, while its signature is younger than
//! [`RESEND_WINDOW`] (AWS accepts one for five minutes). The age counts
//! from when the request reached the gate, just after it was signed, so
//! time spent queueing counts too. Only then does the SDK see the throttle,
//! and it retries with a fresh signature.
//!
//! The gate is the HTTP client every SDK client of a command shares, so it
//! sees each attempt. A request's service is its SigV4 credential scope.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Calls in flight per service when a command starts.
pub const START: usize = 8;
/// The most calls in flight per service.
pub const MAX: usize = 64;
/// How old a request's signature may be for the gate to send it again
/// after a throttle; older ones go back to the SDK to be signed anew.
pub const RESEND_WINDOW: Duration = Duration::from_secs(4 * 60);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The error codes that mean "slow down", whatever the protocol. Narrower
/// than the SDK's throttling list: `LimitExceededException` there also
/// means a resource quota is reached, which no wait cures.
pub(crate) const THROTTLING_CODES: [&str; 8] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
];

/// The gates of one command, one per service, created on first use.
#[derive(Debug, Clone)]
pub struct Pace {
    started: Instant,
    gates: Arc<Mutex<BTreeMap<String, Arc<Gate>>>>,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            started: Instant::now(),
            gates: Arc::default(),
        }
    }
}

impl Pace {
    /// An HTTP client for the SDK that sends through these gates over
    /// `inner`.
    pub fn http_client(&self, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(PacedClient {
            pace: self.clone(),
            inner,
        })
    }

    fn gate(&self, service: &str) -> Arc<Gate> {
        let mut gates = self.gates.lock().expect("pace lock");
        gates
            .entry(service.to_string())
            .or_insert_with(|| Arc::new(Gate::new(self.started)))
            .clone()
    }

    /// What each service's gate did, by service.
    pub fn report(&self) -> BTreeMap<String, GateReport> {
        let gates = self.gates.lock().expect("pace lock");
        gates
            .iter()
            .map(|(service, gate)| (service.clone(), gate.report()))
            .collect()
    }

    /// Logs [`Pace::report`] at debug level, one event per service (with
    /// `--output json`, JSON lines on stderr).
    pub fn trace_report(&self) {
        for (service, report) in self.report() {
            tracing::debug!(
                service = %service,
                calls = report.calls,
                throttled = report.throttled,
                peak = report.peak,
                last = report.last,
                path = %serde_json::to_string(&report.path).expect("numbers serialise"),
                "pace"
            );
        }
    }
}

/// One service's gate over a command: `path` is `[milliseconds since the
/// command started, limit]` at the start and at each change.
#[derive(Debug, Clone)]
pub struct GateReport {
    pub calls: u64,
    pub throttled: u64,
    pub peak: usize,
    pub last: usize,
    pub path: Vec<(u64, usize)>,
}

#[derive(Debug)]
struct Gate {
    started: Instant,
    permits: Arc<Semaphore>,
    limit: Mutex<Limit>,
}

#[derive(Debug)]
struct Limit {
    /// The limit; calls in flight may be `floor(value)`. The semaphore
    /// holds that many permits, handed out or available, plus `owed`.
    value: f64,
    /// Permits to retire as in-flight calls return them, after a halving
    /// found fewer than it cut available.
    owed: usize,
    slow_start: bool,
    /// Calls admitted so far; a throttle of a call admitted before the last
    /// halving does not halve again.
    admitted: u64,
    halved_after: u64,
    calls: u64,
    throttled: u64,
    peak: usize,
    path: Vec<(u64, usize)>,
}

impl Gate {
    fn new(started: Instant) -> Gate {
        Gate {
            started,
            permits: Arc::new(Semaphore::new(START)),
            limit: Mutex::new(Limit {
                value: START as f64,
                owed: 0,
                slow_start: true,
                admitted: 0,
                halved_after: 0,
                calls: 0,
                throttled: 0,
                peak: START,
                path: vec![(started.elapsed().as_millis() as u64, START)],
            }),
        }
    }

    async fn enter(self: &Arc<Gate>) -> Slot {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the gate's semaphore is never closed");
        let mut limit = self.limit.lock().expect("pace lock");
        limit.admitted += 1;
        Slot {
            gate: self.clone(),
            permit: Some(permit),
            admitted: limit.admitted,
        }
    }

    fn report(&self) -> GateReport {
        let limit = self.limit.lock().expect("pace lock");
        GateReport {
            calls: limit.calls,
            throttled: limit.throttled,
            peak: limit.peak,
            last: limit.value as usize,
            path: limit.path.clone(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// A call's place in flight; returned to the gate on drop.
struct Slot {
    gate: Arc<Gate>,
    permit: Option<OwnedSemaphorePermit>,
    admitted: u64,
}

impl Slot {
    fn succeeded(self) {
        let gate = &self.gate;
        let mut limit = gate.limit.lock().expect("pace lock");
        limit.calls += 1;
        let before = limit.value as usize;
        limit.value = if limit.slow_start {
            limit.value + 1.0
        } else {
            limit.value + 1.0 / limit.value
        }
        .min(MAX as f64);
        let after = limit.value as usize;
        for _ in before..after {
            if limit.owed > 0 {
                limit.owed -= 1;
            } else {
                gate.permits.add_permits(1);
            }
        }
        if after != before {
            limit.peak = limit.peak.max(after);
            let now = gate.now_ms();
            limit.path.push((now, after));
        }
    }

    fn throttled(self) {
        let gate = &self.gate;
        let mut limit = gate.limit.lock().expect("pace lock");
        limit.calls += 1;
        limit.throttled += 1;
        if self.admitted <= limit.halved_after {
            return;
        }
        limit.slow_start = false;
        limit.halved_after = limit.admitted;
        let before = limit.value as usize;
        limit.value = (limit.value / 2.0).max(1.0);
        let target = limit.value as usize;
        let cut = before - target;
        let retired = gate.permits.forget_permits(cut);
        limit.owed += cut - retired;
        if target != before {
            let now = gate.now_ms();
            limit.path.push((now, target));
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut limit = self.gate.limit.lock().expect("pace lock");
        let permit = self.permit.take().expect("a slot holds its permit");
        if limit.owed > 0 {
            limit.owed -= 1;
            permit.forget();
        }
    }
}

#[derive(Debug, Clone)]
struct PacedClient {
    pace: Pace,
    inner: SharedHttpClient,
}

impl HttpClient for PacedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            pace: self.pace.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    pace: Pace,
    inner: SharedHttpConnector,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let gate = self.pace.gate(service(&request));
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let signed = Instant::now();
            let mut backoff = FIRST_BACKOFF;
            let mut request = request;
            loop {
                let again = request.try_clone();
                let slot = gate.enter().await;
                let response = match inner.call(request).await {
                    Ok(response) => response,
                    // No answer in time: the service (or the way to it) is
                    // overloaded, as surely as a throttle says it is.
                    Err(err) if err.is_timeout() => {
                        slot.throttled();
                        return Err(err);
                    }
                    Err(err) => return Err(err),
                };
                let (response, throttled) = read_throttle(response).await?;
                if !throttled {
                    slot.succeeded();
                    return Ok(response);
                }
                slot.throttled();
                match again {
                    Some(next) if signed.elapsed() < RESEND_WINDOW => {
                        tokio::time::sleep(jittered(backoff)).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        request = next;
                    }
                    _ => return Ok(response),
                }
            }
        })
    }
}

/// The signing name in a SigV4 `Authorization` header's credential scope
/// (`Credential=AKID/20261206/ap-northeast-1/iam/aws4_request`).
fn service(request: &HttpRequest) -> &str {
    request
        .headers()
        .get("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or("unsigned")
}

/// Whether the answer is a throttle, reading the body of an error answer
/// that may be one (and putting it back).
async fn read_throttle(mut response: HttpResponse) -> Result<(HttpResponse, bool), ConnectorError> {
    let status = response.status().as_u16();
    if status == 429 {
        return Ok((response, true));
    }
    if !matches!(status, 400 | 503) {
        return Ok((response, false));
    }
    let header = response
        .headers()
        .get("x-amzn-errortype")
        .map(str::to_string);
    let body = ByteStream::new(response.take_body())
        .collect()
        .await
        .map_err(|e| ConnectorError::io(e.into()))?
        .into_bytes();
    let throttled = header
        .as_deref()
        .into_iter()
        .chain(error_code(&body))
        .any(is_throttling_code);
    *response.body_mut() = SdkBody::from(body);
    Ok((response, throttled))
}

/// The error code of a JSON (`__type`, `code`) or XML (`<Code>`) error body.
fn error_code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    if let Some(start) = text.find("<Code>") {
        let rest = &text[start + "<Code>".len()..];
        return rest.find("</Code>").map(|end| &rest[..end]);
    }
    ["\"__type\"", "\"code\"", "\"Code\""]
        .iter()
        .find_map(|key| {
            let rest = &text[text.find(key)? + key.len()..];
            let rest = rest.trim_start().strip_prefix(':')?.trim_start();
            let value = rest.strip_prefix('"')?;
            value.find('"').map(|end| &value[..end])
        })
}

/// `ThrottlingException`, also in its qualified forms
/// (`com.amazonaws.states#ThrottlingException`,
/// `ThrottlingException:http://internal.amazon.com/...`).
fn is_throttling_code(code: &str) -> bool {
    let code = code.rsplit('#').next().unwrap_or(code);
    let code = code.split(':').next().unwrap_or(code);
    THROTTLING_CODES.contains(&code.trim())
}

/// A random wait in `[backoff / 2, backoff]`, so throttled calls do not
/// come back together.
fn jittered(backoff: Duration) -> Duration {
    let random = RandomState::new().build_hasher().finish();
    let half = backoff / 2;
    half + half.mul_f64((random % 1_000) as f64 / 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_are_read_in_every_protocol() {
        let xml = br#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"#;
        assert_eq!(error_code(xml), Some("Throttling"));
        let json =
            br#"{"__type": "com.amazonaws.logs#ThrottlingException", "message": "Rate exceeded"}"#;
        assert!(is_throttling_code(error_code(json).unwrap()));
        let rest = br#"{"message":"Too Many Requests","code":"TooManyRequestsException"}"#;
        assert!(is_throttling_code(error_code(rest).unwrap()));
        assert!(is_throttling_code(
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"
        ));
        let quota = br#"{"__type":"LimitExceededException","message":"Resource limit exceeded."}"#;
        assert!(!is_throttling_code(error_code(quota).unwrap()));
        assert_eq!(error_code(b"{}"), None);
    }

    fn path(gate: &Gate) -> Vec<usize> {
        gate.report().path.iter().map(|(_, limit)| *limit).collect()
    }

    #[tokio::test]
    async fn the_limit_grows_while_calls_succeed_and_halves_once_per_throttle() {
        let gate = Arc::new(Gate::new(Instant::now()));
        // Slow start: one more per success.
        for _ in 0..4 {
            gate.enter().await.succeeded();
        }
        assert_eq!(path(&gate), [8, 9, 10, 11, 12]);
        assert_eq!(gate.permits.available_permits(), 12);

        // Six calls in flight are throttled together: one halving.
        let in_flight: Vec<Slot> = futures::future::join_all((0..6).map(|_| gate.enter())).await;
        for slot in in_flight {
            slot.throttled();
        }
        assert_eq!(path(&gate).last(), Some(&6));
        assert_eq!(gate.permits.available_permits(), 6);

        // Halving while calls hold permits retires them as they come back.
        let held: Vec<Slot> = futures::future::join_all((0..6).map(|_| gate.enter())).await;
        assert_eq!(gate.permits.available_permits(), 0);
        let mut held = held.into_iter();
        held.next().unwrap().throttled();
        assert_eq!(path(&gate).last(), Some(&3));
        drop(held);
        assert_eq!(gate.permits.available_permits(), 3);

        // After a throttle, about one more per limit's worth of successes.
        for _ in 0..4 {
            gate.enter().await.succeeded();
        }
        assert_eq!(path(&gate).last(), Some(&4));
        assert_eq!(gate.permits.available_permits(), 4);
        let report = gate.report();
        assert_eq!((report.calls, report.throttled, report.peak), (15, 7, 12));
    }

    #[tokio::test]
    async fn the_limit_never_drops_below_one_nor_exceeds_the_maximum() {
        let gate = Arc::new(Gate::new(Instant::now()));
        for _ in 0..10 {
            gate.enter().await.throttled();
        }
        assert_eq!(gate.report().last, 1);
        assert_eq!(gate.permits.available_permits(), 1);
        for _ in 0..(MAX * MAX) {
            gate.enter().await.succeeded();
        }
        assert_eq!(gate.report().last, MAX);
        assert_eq!(gate.permits.available_permits(), MAX);
    }
}
