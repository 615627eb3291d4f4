//! Log output: logfmt (`ts=... level=info msg="..." key=value`), the format Prometheus
//! exporters use by default, or JSON. Logs go to stderr so `scan --once` and `check` keep
//! stdout for their results.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The line format, chosen by `--log.format` (the CLI maps its flag onto this, so logging
/// does not depend on the command-line module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Logfmt,
    Json,
}

/// Install the global subscriber for `--log.level` and `--log.format`.
///
/// An unparsable level falls back to `info` rather than refusing to start.
pub fn init(level: &str, format: Format) {
    subscriber(level, format, std::io::stderr).init();
}

/// The subscriber `init` installs, writing to `writer` (tests capture its lines).
fn subscriber<W>(level: &str, format: Format, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        Format::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_target(false)
                .finish(),
        ),
        Format::Logfmt => Box::new(
            builder
                .fmt_fields(LogfmtFields)
                .event_format(Logfmt)
                .finish(),
        ),
    }
}

/// One event per line as logfmt key=value pairs: `ts`, `level`, `msg`, then the fields of the
/// spans the event is in (outermost first), then the event's own fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
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
        let now = time::OffsetDateTime::now_utc();
        let ts = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let mut visitor = LogfmtVisitor::default();
        event.record(&mut visitor);
        let mut line = format!("ts={ts} level={level}");
        if let Some(msg) = &visitor.message {
            line.push_str(" msg=");
            push_value(&mut line, msg);
        }
        // Span fields were rendered once, when each span was created or recorded, by the
        // subscriber's field formatter (`LogfmtFields` when installed by `init`).
        for span in ctx.event_scope().into_iter().flat_map(|s| s.from_root()) {
            if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                if !fields.is_empty() {
                    line.push(' ');
                    line.push_str(fields);
                }
            }
        }
        line.push_str(&visitor.fields);
        writeln!(writer, "{line}")
    }
}

/// Renders span fields as logfmt pairs, so they can be appended to event lines as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogfmtFields;

impl<'writer> FormatFields<'writer> for LogfmtFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = LogfmtVisitor {
            keep_message: true,
            ..LogfmtVisitor::default()
        };
        fields.record(&mut visitor);
        writer.write_str(visitor.fields.trim_start())
    }
}

#[derive(Default)]
struct LogfmtVisitor {
    message: Option<String>,
    /// ` key=value` pairs, each with its leading space.
    fields: String,
    /// Keep a `message` field as a pair (span fields have no message of their own).
    keep_message: bool,
}

impl Visit for LogfmtVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && !self.keep_message {
            self.message = Some(value.to_string());
        } else {
            let _ = write!(self.fields, " {}=", field.name());
            push_value(&mut self.fields, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Quote a value when it is empty or holds a space, a quote, `=` or a control character.
fn push_value(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c.is_control());
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::{Format, push_value, subscriber};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// The lines written while `f` runs under the subscriber `init` would install.
    fn lines(format: Format, f: impl FnOnce()) -> Vec<String> {
        let out = Captured::default();
        tracing::subscriber::with_default(subscriber("info", format, out.clone()), f);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    fn in_spans() {
        tracing::info!(outside = true, "before");
        let cycle = tracing::info_span!("cycle", cycle = 7, target = "111111111111/eu-west-1");
        let _c = cycle.enter();
        let collect = tracing::info_span!("collect", repos = tracing::field::Empty);
        collect.record("repos", 3);
        let _r = collect.enter();
        tracing::info!(error = "access denied", "target failed");
    }

    #[test]
    fn logfmt_lines_carry_the_fields_of_the_enclosing_spans() {
        let lines = lines(Format::Logfmt, in_spans);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let strip_ts = |l: &str| {
            l.split_once(' ').map(|(ts, rest)| {
                assert!(ts.starts_with("ts=20"), "{l}");
                rest.to_string()
            })
        };
        assert_eq!(
            strip_ts(&lines[0]).unwrap(),
            "level=info msg=before outside=true"
        );
        assert_eq!(
            strip_ts(&lines[1]).unwrap(),
            "level=info msg=\"target failed\" cycle=7 target=111111111111/eu-west-1 repos=3 \
             error=\"access denied\""
        );
    }

    #[test]
    fn json_lines_carry_the_fields_of_the_enclosing_spans() {
        let lines = lines(Format::Json, in_spans);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(v["message"], "target failed");
        assert_eq!(v["error"], "access denied");
        assert_eq!(v["span"]["repos"], 3);
        assert_eq!(v["spans"][0]["cycle"], 7);
        assert_eq!(v["spans"][0]["target"], "111111111111/eu-west-1");
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert!(first.get("span").is_none(), "{first}");
    }

    fn quoted(v: &str) -> String {
        let mut s = String::new();
        push_value(&mut s, v);
        s
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(quoted("eu-west-1"), "eu-west-1");
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("k=v"), "\"k=v\"");
        assert_eq!(quoted("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
    }
}
