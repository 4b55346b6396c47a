//! `sepia events`: Sepia's events from the NATS JetStream stream the plugins publish to
//! (`crates/events` defines it), one line each, filtered by volume ID or PVC; `--follow`
//! keeps reading. Reads through an ephemeral ordered consumer, so nothing is left on the
//! server and the stream is never changed.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use events::Event;
use futures::StreamExt as _;

use crate::args::{EventsArgs, Output};
use crate::error::{Error, Result};

/// How long a reader that does not follow waits for the next message before calling the
/// stream read: the server sends what it has at once.
const QUIET: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often `--follow` looks for a stream that does not exist yet.
const STREAM_POLL: Duration = Duration::from_secs(1);

pub async fn run(args: &EventsArgs) -> Result<()> {
    let filter = Filter::new(args)?;
    let failed = |what: &str| {
        let what = what.to_owned();
        move |e: String| Error::Events {
            what: format!("{what}: {e}"),
        }
    };
    let client = tokio::time::timeout(
        CONNECT_TIMEOUT,
        async_nats::ConnectOptions::new()
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(args.nats_url.as_str()),
    )
    .await
    .map_err(|_| "no answer".to_owned())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .map_err(failed("connect to NATS"))?;
    let js = async_nats::jetstream::new(client);
    // Following, a stream no component has made yet is waited for: the first publisher
    // creates it, and its events are then printed like any others.
    let mut waiting = false;
    let mut stream = loop {
        match js.get_stream(&args.stream).await {
            Ok(stream) => break stream,
            Err(e) if args.follow => {
                if !waiting {
                    eprintln!("sepia: waiting for stream {}: {e}", args.stream);
                    waiting = true;
                }
                tokio::time::sleep(STREAM_POLL).await;
            }
            Err(e) => return Err(failed(&format!("stream {}", args.stream))(e.to_string())),
        }
    };
    let stored = stream
        .info()
        .await
        .map_err(|e| failed("stream info")(e.to_string()))?
        .state
        .messages;
    if stored == 0 && !args.follow {
        return Ok(());
    }
    let deliver_policy = match args.since {
        Some(ago) => {
            let ago: Duration = ago.into();
            let start = SystemTime::now()
                .checked_sub(ago)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from(start),
            }
        }
        None => DeliverPolicy::All,
    };
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: args.subject.clone(),
            deliver_policy,
            ..OrderedConfig::default()
        })
        .await
        .map_err(|e| failed("create a reader")(e.to_string()))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| failed("read")(e.to_string()))?;
    loop {
        let next = if args.follow {
            messages.next().await
        } else {
            tokio::time::timeout(QUIET, messages.next())
                .await
                .unwrap_or_default()
        };
        let Some(message) = next else {
            return Ok(());
        };
        let message = message.map_err(|e| failed("read")(e.to_string()))?;
        let pending = message.info().map(|i| i.pending).unwrap_or(0);
        match serde_json::from_slice::<Event>(&message.payload) {
            Ok(event) if filter.matches(&event) => print(args.output, &event)?,
            Ok(_) => {}
            Err(e) => eprintln!(
                "sepia: skipping a message on {} that is no event: {e}",
                message.subject
            ),
        }
        if !args.follow && pending == 0 {
            return Ok(());
        }
    }
}

/// `--volume` / `--pvc`.
struct Filter {
    volume: Option<String>,
    pvc: Option<(String, String)>,
}

impl Filter {
    fn new(args: &EventsArgs) -> Result<Filter> {
        let pvc = match &args.pvc {
            None => None,
            Some(text) => match text.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                    Some((ns.to_owned(), name.to_owned()))
                }
                _ => {
                    return Err(Error::Usage {
                        what: format!("--pvc {text:?}: expected <namespace>/<name>"),
                    });
                }
            },
        };
        Ok(Filter {
            volume: args.volume.clone(),
            pvc,
        })
    }

    fn matches(&self, event: &Event) -> bool {
        let volume = self
            .volume
            .as_ref()
            .is_none_or(|id| event.csi.volume_id.as_ref() == Some(id));
        let pvc = self.pvc.as_ref().is_none_or(|(ns, name)| {
            event.kubernetes.as_ref().is_some_and(|k| {
                k.kind == "PersistentVolumeClaim"
                    && k.namespace.as_deref() == Some(ns.as_str())
                    && &k.name == name
            })
        });
        volume && pvc
    }
}

fn print(output: Output, event: &Event) -> Result<()> {
    match output {
        Output::Json => {
            let line = serde_json::to_string(event).map_err(std::io::Error::from)?;
            println!("{line}");
        }
        Output::Table => println!("{}", line(event)),
    }
    Ok(())
}

/// One event in one line: time, subject, outcome, the objects it names, how long it took.
fn line(e: &Event) -> String {
    let mut parts = vec![
        humantime::format_rfc3339_millis(e.time).to_string(),
        format!("{}.{}.{}", e.component, e.object, e.verb),
        if e.outcome.is_ok() {
            "ok".to_owned()
        } else {
            format!("error {}", e.outcome.code)
        },
    ];
    let named = [
        ("volume", &e.csi.volume_id),
        ("snapshot", &e.csi.snapshot_id),
        ("request", &e.csi.request_name),
        ("node", &e.csi.node_id),
    ];
    for (label, value) in named {
        if let Some(value) = value {
            parts.push(format!("{label}={value}"));
        }
    }
    if let Some(k) = &e.kubernetes {
        let ns = k
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        parts.push(format!("{}={ns}{}", k.kind, k.name));
    }
    if let Some(size) = e.size_bytes {
        parts.push(format!("size={size}"));
    }
    parts.push(format!("{}ms", e.duration_ms));
    if let Some(message) = &e.outcome.message {
        parts.push(format!("— {message}"));
    }
    parts.join(" ")
}
