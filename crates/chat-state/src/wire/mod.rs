//! The protocol between a client and a Durable Object, and its dispatcher.
//!
//! A request carries one contract call as JSON:
//!
//! ```json
//! {"v": 1, "op": "acquireLock", "args": {"threadId": "slack:C1:T1", "ttlMs": 30000}}
//! ```
//!
//! and the reply carries the protocol version and either a result or an
//! error:
//!
//! ```json
//! {"v": 1, "ok": {"threadId": "slack:C1:T1", "token": "…", "expiresAt": 1700000030000}}
//! {"v": 1, "err": {"code": "value_too_large", "message": "…"}}
//! ```
//!
//! Values travel as JSON *text* inside the arguments (`"value": "{\"a\":1}"`),
//! so the object stores them without building a JSON tree. TTLs and bounds
//! are JavaScript numbers and are normalised here by the rules of
//! [`crate::limits`]. A request may ask for `"stats": true`; the reply then
//! carries `"cost": {"rowsRead": …, "rowsWritten": …}` when the host can
//! count rows.
//!
//! # Versions
//!
//! An object accepts versions [`MIN_VERSION`] to [`VERSION`]. Any other
//! version gets the error code `unsupported_version` with the supported
//! range in `min` and `cur`, so a client can resend in a version both
//! speak. Changes are additive: new fields are optional and unknown fields
//! are ignored, so adding one needs no new version.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Number;

use crate::engine::{Engine, RawQueueEntry};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{bound_from_f64, ttl_from_f64};
use crate::sql::SqlConn;
use crate::types::{ListOptions, Lock};

/// The protocol version this crate speaks and sends.
pub const VERSION: u32 = 1;
/// The oldest protocol version this crate still accepts.
pub const MIN_VERSION: u32 = 1;

/// Wire code of a request in a version outside the supported range.
pub const UNSUPPORTED_VERSION: &str = "unsupported_version";
/// Wire code of an operation the object does not know.
pub const UNSUPPORTED_OP: &str = "unsupported_op";

/// A request as it arrives: version, operation and its raw arguments.
#[derive(Debug, Deserialize)]
pub struct Request<'a> {
    /// Protocol version of the sender.
    pub v: u32,
    /// Operation name, e.g. `"acquireLock"`.
    pub op: &'a str,
    /// The operation's arguments, decoded once the operation is known.
    #[serde(borrow, default)]
    pub args: Option<&'a RawValue>,
    /// Whether to report rows read and written in the reply.
    #[serde(default)]
    pub stats: bool,
}

/// An error as it travels in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// A stable code: an [`ErrorKind`] code, [`UNSUPPORTED_VERSION`] or
    /// [`UNSUPPORTED_OP`].
    pub code: String,
    /// What happened and what to do about it.
    pub message: String,
    /// For `unsupported_version`: the oldest version the object accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// For `unsupported_version`: the newest version the object accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cur: Option<u32>,
}

impl WireError {
    /// The wire form of an engine error.
    pub fn from_error(error: &Error) -> Self {
        Self {
            code: error.kind().code().to_owned(),
            message: error.to_string(),
            min: None,
            cur: None,
        }
    }

    /// The error back on the client side, as the matching [`Error`].
    pub fn into_error(self) -> Error {
        let kind = match self.code.as_str() {
            "not_connected" => ErrorKind::NotConnected,
            "invalid_argument" => ErrorKind::InvalidArgument,
            "value_too_large" => ErrorKind::ValueTooLarge,
            "decode" => ErrorKind::Decode,
            "storage" => ErrorKind::Storage,
            _ => ErrorKind::Protocol,
        };
        match kind {
            // The remote message already says what and why; keep it whole.
            ErrorKind::InvalidArgument | ErrorKind::ValueTooLarge | ErrorKind::Decode => {
                Error::Remote {
                    kind,
                    message: self.message,
                }
            }
            ErrorKind::Storage => Error::storage("remote call", self.message),
            ErrorKind::NotConnected => Error::NotConnected {
                backend: "ChatStateDO",
            },
            _ => Error::Protocol {
                message: format!("{}: {}", self.code, self.message),
            },
        }
    }
}

/// Rows read and written by one request, as SQL cursors count them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// Rows read.
    pub rows_read: u64,
    /// Rows written, index entries included.
    pub rows_written: u64,
}

/// A reply as the client reads it.
#[derive(Debug, Deserialize)]
pub struct Reply<'a> {
    /// Protocol version of the object.
    pub v: u32,
    /// The result, when the call succeeded.
    #[serde(borrow, default)]
    pub ok: Option<&'a RawValue>,
    /// The error, when it failed.
    #[serde(default)]
    pub err: Option<WireError>,
    /// Rows read and written, when asked for.
    #[serde(default)]
    pub cost: Option<Cost>,
}

#[derive(Serialize)]
struct ReplyOut<'a, T: Serialize> {
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ok: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    err: Option<&'a WireError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<Cost>,
}

/// What the dispatcher produced for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The reply text to send back.
    pub reply: String,
    /// An expiry the call stored, for the host's cleanup alarm.
    pub expiry: Option<i64>,
    /// Whether the call failed; the host should roll back its transaction.
    pub failed: bool,
    /// Whether the request asked for the cost to be reported.
    pub wants_cost: bool,
}

/// Serialises a reply. `cost` is filled in later by [`with_cost`] when the
/// host has counted rows.
fn reply<T: Serialize>(result: std::result::Result<T, WireError>) -> String {
    let out = match &result {
        Ok(value) => ReplyOut {
            v: VERSION,
            ok: Some(value),
            err: None,
            cost: None,
        },
        Err(err) => ReplyOut {
            v: VERSION,
            ok: None,
            err: Some(err),
            cost: None,
        },
    };
    serde_json::to_string(&out).unwrap_or_else(|e| {
        format!(
            r#"{{"v":{VERSION},"err":{{"code":"protocol","message":"cannot encode reply: {e}"}}}}"#
        )
    })
}

/// Adds `"cost"` to a reply produced by [`dispatch`].
pub fn with_cost(reply: &str, cost: Cost) -> String {
    match reply.strip_suffix('}') {
        Some(head) => format!(
            r#"{head},"cost":{{"rowsRead":{},"rowsWritten":{}}}}}"#,
            cost.rows_read, cost.rows_written
        ),
        None => reply.to_owned(),
    }
}

fn decode_args<'a, T: Deserialize<'a>>(op: &'static str, args: Option<&'a RawValue>) -> Result<T> {
    let text = args.map_or("{}", RawValue::get);
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let reason = if field == "." {
            format!("arguments: {}", e.into_inner())
        } else {
            format!("argument {field}: {}", e.into_inner())
        };
        Error::InvalidArgument { method: op, reason }
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadArgs<'a> {
    #[serde(borrow)]
    thread_id: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyArgs<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AcquireArgs<'a> {
    #[serde(borrow)]
    thread_id: std::borrow::Cow<'a, str>,
    ttl_ms: Option<Number>,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenArgs<'a> {
    #[serde(borrow)]
    thread_id: std::borrow::Cow<'a, str>,
    token: String,
    #[serde(default)]
    ttl_ms: Option<Number>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetArgs<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    value: std::borrow::Cow<'a, str>,
    #[serde(default)]
    ttl_ms: Option<Number>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppendArgs<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    value: std::borrow::Cow<'a, str>,
    #[serde(default)]
    max_length: Option<Number>,
    #[serde(default)]
    ttl_ms: Option<Number>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnqueueArgs<'a> {
    #[serde(borrow)]
    thread_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    entry: std::borrow::Cow<'a, str>,
    enqueued_at: Option<Number>,
    expires_at: Option<Number>,
    #[serde(default)]
    max_size: Option<Number>,
}

/// A TTL as a JSON number: integers are taken exactly, other numbers by the
/// rules of [`ttl_from_f64`].
fn ttl(method: &'static str, raw: Option<Number>) -> Result<Option<i64>> {
    match raw {
        Some(n) => match n.as_i64() {
            Some(v) => Ok(Some(v)),
            None => ttl_from_f64(method, n.as_f64()),
        },
        None => Ok(None),
    }
}

/// A list or queue bound as a JSON number.
fn bound(method: &'static str, name: &str, raw: Option<Number>) -> Result<i64> {
    match raw.as_ref().and_then(Number::as_i64) {
        Some(v) => {
            crate::limits::check_bound(method, name, v)?;
            Ok(v.max(0))
        }
        None => bound_from_f64(method, name, raw.and_then(|n| n.as_f64())),
    }
}

fn required_ttl(method: &'static str, raw: Option<Number>) -> Result<i64> {
    ttl(method, raw)?.ok_or_else(|| Error::InvalidArgument {
        method,
        reason: "ttlMs is required and must be a number of milliseconds".to_owned(),
    })
}

/// A queue entry time: an integer as given, a fraction rounded down. The
/// engine refuses times outside the exact JavaScript integers.
fn timestamp(name: &str, raw: Option<Number>) -> Result<i64> {
    let whole = raw.as_ref().and_then(|n| {
        n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|x| x.is_finite() && x.abs() < 9.3e18)
                .map(|x| x.floor() as i64)
        })
    });
    whole.ok_or_else(|| Error::InvalidArgument {
        method: "enqueue",
        reason: format!("{name} must be a finite number of Unix milliseconds"),
    })
}

/// Reads a request envelope and checks its version. On failure, the
/// outcome holds the error reply to send.
pub fn parse(request: &str) -> std::result::Result<Request<'_>, Outcome> {
    let parsed: Request<'_> = serde_json::from_str(request).map_err(|e| {
        failure(
            WireError {
                code: ErrorKind::Protocol.code().to_owned(),
                message: format!("the request is not a protocol envelope: {e}"),
                min: None,
                cur: None,
            },
            false,
        )
    })?;
    if parsed.v < MIN_VERSION || parsed.v > VERSION {
        return Err(failure(
            WireError {
                code: UNSUPPORTED_VERSION.to_owned(),
                message: format!(
                    "protocol version {} is not supported; this object speaks {MIN_VERSION} to {VERSION}",
                    parsed.v
                ),
                min: Some(MIN_VERSION),
                cur: Some(VERSION),
            },
            parsed.stats,
        ));
    }
    Ok(parsed)
}

/// Whether `op` may write more than one statement, so that a host must run
/// it in an explicit transaction to roll back a failure midway. Every other
/// operation checks everything that can fail before it writes, and then
/// writes at most once, so it needs no transaction of its own.
pub fn needs_transaction(op: &str) -> bool {
    matches!(op, "appendToList" | "enqueue")
}

/// Runs one request against `engine` on `conn` and produces its reply.
///
/// Application errors (bad arguments, limits, unknown operation or version)
/// become error replies; the `failed` flag tells the host to roll back.
pub fn dispatch(engine: &Engine, conn: &mut dyn SqlConn, request: &str) -> Outcome {
    match parse(request) {
        Ok(parsed) => dispatch_parsed(engine, conn, &parsed),
        Err(outcome) => outcome,
    }
}

/// [`dispatch`] for a request already read with [`parse`].
pub fn dispatch_parsed(engine: &Engine, conn: &mut dyn SqlConn, request: &Request<'_>) -> Outcome {
    let wants_cost = request.stats;
    match run(engine, conn, request.op, request.args) {
        Ok((reply, expiry)) => Outcome {
            reply,
            expiry,
            failed: false,
            wants_cost,
        },
        Err(Failure::Error(e)) => failure(WireError::from_error(&e), wants_cost),
        Err(Failure::UnknownOp(op)) => failure(
            WireError {
                code: UNSUPPORTED_OP.to_owned(),
                message: format!("operation {op:?} is not supported by this object"),
                min: None,
                cur: None,
            },
            wants_cost,
        ),
    }
}

fn failure(err: WireError, wants_cost: bool) -> Outcome {
    Outcome {
        reply: reply::<()>(Err(err)),
        expiry: None,
        failed: true,
        wants_cost,
    }
}

enum Failure {
    Error(Error),
    UnknownOp(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

type Ran = std::result::Result<(String, Option<i64>), Failure>;

fn ok<T: Serialize>(value: T) -> Ran {
    Ok((reply(Ok(value)), None))
}

fn run(engine: &Engine, conn: &mut dyn SqlConn, op: &str, args: Option<&RawValue>) -> Ran {
    match op {
        "subscribe" => {
            let a: ThreadArgs<'_> = decode_args("subscribe", args)?;
            ok(engine.subscribe(conn, &a.thread_id)?)
        }
        "unsubscribe" => {
            let a: ThreadArgs<'_> = decode_args("unsubscribe", args)?;
            ok(engine.unsubscribe(conn, &a.thread_id)?)
        }
        "isSubscribed" => {
            let a: ThreadArgs<'_> = decode_args("isSubscribed", args)?;
            ok(engine.is_subscribed(conn, &a.thread_id)?)
        }
        "acquireLock" => {
            let a: AcquireArgs<'_> = decode_args("acquireLock", args)?;
            let ttl = required_ttl("acquireLock", a.ttl_ms)?;
            let lock: Option<Lock> =
                engine.acquire_lock(conn, &a.thread_id, ttl, a.token.as_deref())?;
            ok(lock)
        }
        "releaseLock" => {
            let a: TokenArgs<'_> = decode_args("releaseLock", args)?;
            ok(engine.release_lock(conn, &a.thread_id, &a.token)?)
        }
        "extendLock" => {
            let a: TokenArgs<'_> = decode_args("extendLock", args)?;
            let ttl = required_ttl("extendLock", a.ttl_ms)?;
            ok(engine.extend_lock(conn, &a.thread_id, &a.token, ttl)?)
        }
        "forceReleaseLock" => {
            let a: ThreadArgs<'_> = decode_args("forceReleaseLock", args)?;
            ok(engine.force_release_lock(conn, &a.thread_id)?)
        }
        "get" => {
            let a: KeyArgs<'_> = decode_args("get", args)?;
            ok(engine.get(conn, &a.key)?)
        }
        "set" => {
            let a: SetArgs<'_> = decode_args("set", args)?;
            let ttl = ttl("set", a.ttl_ms)?;
            let applied = engine.set(conn, &a.key, &a.value, ttl)?;
            Ok((reply(Ok(())), applied.expiry))
        }
        "setIfNotExists" => {
            let a: SetArgs<'_> = decode_args("setIfNotExists", args)?;
            let ttl = ttl("setIfNotExists", a.ttl_ms)?;
            let applied = engine.set_if_not_exists(conn, &a.key, &a.value, ttl)?;
            Ok((reply(Ok(applied.value)), applied.expiry))
        }
        "delete" => {
            let a: KeyArgs<'_> = decode_args("delete", args)?;
            ok(engine.delete(conn, &a.key)?)
        }
        "appendToList" => {
            let a: AppendArgs<'_> = decode_args("appendToList", args)?;
            let options = ListOptions {
                max_length: Some(bound("appendToList", "maxLength", a.max_length)?),
                ttl_ms: ttl("appendToList", a.ttl_ms)?,
            };
            let applied = engine.append_to_list(conn, &a.key, &a.value, options)?;
            Ok((reply(Ok(())), applied.expiry))
        }
        "getList" => {
            let a: KeyArgs<'_> = decode_args("getList", args)?;
            ok(engine.get_list(conn, &a.key)?)
        }
        "enqueue" => {
            let a: EnqueueArgs<'_> = decode_args("enqueue", args)?;
            let entry = RawQueueEntry {
                enqueued_at: timestamp("enqueuedAt", a.enqueued_at)?,
                expires_at: timestamp("expiresAt", a.expires_at)?,
                json: a.entry.into_owned(),
            };
            let max_size = bound("enqueue", "maxSize", a.max_size)?;
            let applied = engine.enqueue(conn, &a.thread_id, &entry, max_size)?;
            Ok((reply(Ok(applied.value)), applied.expiry))
        }
        "dequeue" => {
            let a: ThreadArgs<'_> = decode_args("dequeue", args)?;
            ok(engine.dequeue(conn, &a.thread_id)?.map(|e| e.json))
        }
        "queueDepth" => {
            let a: ThreadArgs<'_> = decode_args("queueDepth", args)?;
            ok(engine.queue_depth(conn, &a.thread_id)?)
        }
        other => Err(Failure::UnknownOp(other.to_owned())),
    }
}

mod client;

pub use client::{RetryPolicy, Route, Transport, WireClient};
