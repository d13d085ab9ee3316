//! Logging by Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT`
//! (`JSON`, or `Text`) and `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else
//! `info`), which Lambda sets from the function's `LoggingConfig`.
//!
//! A JSON line has the fields CloudWatch's JSON format gives a managed
//! runtime's lines (`timestamp`, `level`, `message`, `requestId`), then the
//! event's own fields. `lambda_runtime` puts the request id on the span of
//! each invocation ("Lambda runtime invoke"); [`RequestIdLayer`] keeps it
//! there, so every line logged during an invocation carries it. Text lines
//! show it in their span context, as `tracing`'s text format does.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The crates whose own logs stay at `warn` whatever the level: the SDK's
/// request traces would otherwise fill the log group.
const QUIET: &str =
    "aws_config=warn,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,hyper=warn";

/// `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// `JSON` (any case) is JSON; anything else, or nothing, is text, as
    /// Lambda's own runtimes read it.
    pub fn from_env_value(value: Option<&str>) -> LogFormat {
        match value {
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Installs the subscriber on stderr, for the process.
pub fn init() {
    let format = LogFormat::from_env_value(std::env::var("AWS_LAMBDA_LOG_FORMAT").ok().as_deref());
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string())
        .to_ascii_lowercase();
    let filter = EnvFilter::try_new(format!("{level},{QUIET}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(RequestIdLayer);
    match format {
        LogFormat::Json => registry.with(output.event_format(JsonLine)).init(),
        LogFormat::Text => registry.with(output.with_target(false)).init(),
    }
}

/// The invocation's request id, kept on the span that declares it.
struct RequestId(String);

/// Keeps the `requestId` field of a span in its extensions.
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(Value::String(request_id)), Some(span)) =
            (fields.0.remove("requestId"), ctx.span(id))
        {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }
}

/// One JSON object per event: `timestamp`, `level`, `message`,
/// `requestId` (inside an invocation), then the event's fields.
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.insert(
            "message".into(),
            fields.0.remove("message").unwrap_or_default(),
        );
        let request_id = ctx.event_scope().and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<RequestId>().map(|r| r.0.clone()))
        });
        if let Some(request_id) = request_id {
            line.insert("requestId".into(), request_id.into());
        }
        line.extend(fields.0);
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's or a span's fields as JSON values.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn a_json_line_carries_the_invocations_request_id_and_the_fields() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(RequestIdLayer).with(
            tracing_subscriber::fmt::layer()
                .with_writer(captured.clone())
                .event_format(JsonLine),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("cold start");
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _inside = span.enter();
            tracing::warn!(attempt = 2, topic = "t", "published");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "cold start");
        assert_eq!(lines[0]["level"], "INFO");
        assert!(lines[0].get("requestId").is_none());
        assert_eq!(lines[1]["requestId"], "req-1");
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["message"], "published");
        assert_eq!(lines[1]["attempt"], 2);
        assert_eq!(lines[1]["topic"], "t");
        assert!(lines[1]["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn only_json_in_any_case_selects_json() {
        assert_eq!(LogFormat::from_env_value(Some("JSON")), LogFormat::Json);
        assert_eq!(LogFormat::from_env_value(Some("json")), LogFormat::Json);
        assert_eq!(LogFormat::from_env_value(Some("Text")), LogFormat::Text);
        assert_eq!(LogFormat::from_env_value(None), LogFormat::Text);
    }
}
