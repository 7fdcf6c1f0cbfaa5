//! The bad-input matrix: each case gets correct storage or a clear error
//! that names the limit, never a crash or partial state. Printed as a table.
//! The same envelopes are what the Rust client and the npm package send, so
//! the wire cases cover both clients' view of the object.

use std::sync::Arc;

use chat_state::limits::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
use chat_state::{ListOptions, ManualClock, StateAdapter};
use chat_state_sqlite::SqliteState;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// What a case must produce.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Success.
    Ok,
    /// An error with this code whose message contains the text.
    Err(&'static str, &'static str),
}

struct Case {
    name: String,
    op: &'static str,
    args: Value,
    expect: Expect,
}

fn case(name: impl Into<String>, op: &'static str, args: Value, expect: Expect) -> Case {
    Case {
        name: name.into(),
        op,
        args,
        expect,
    }
}

fn cases() -> Vec<Case> {
    use Expect::{Err, Ok};
    let big = "x".repeat(MAX_VALUE_BYTES - 2);
    let over = "x".repeat(MAX_VALUE_BYTES - 1);
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    let key_10k = "k".repeat(10 * 1024);
    let at_limit_key = "k".repeat(MAX_KEY_BYTES);
    let entry = |exp: f64| json!({"enqueuedAt": 1, "expiresAt": exp, "message": {}}).to_string();
    vec![
        case(
            "value of exactly 1,990,000 bytes",
            "set",
            json!({"key": "v", "value": format!("\"{big}\"")}),
            Ok,
        ),
        case(
            "value of 1,990,001 bytes",
            "set",
            json!({"key": "v", "value": format!("\"{over}\"")}),
            Err("value_too_large", "1990000"),
        ),
        case(
            "list element of 1,990,001 bytes",
            "appendToList",
            json!({"key": "l", "value": format!("\"{over}\"")}),
            Err("value_too_large", "1990000"),
        ),
        case(
            "queue entry of 1,990,001 bytes",
            "enqueue",
            json!({"threadId": "q", "entry": format!("\"{over}\""), "enqueuedAt": 1, "expiresAt": 9e15}),
            Err("value_too_large", "1990000"),
        ),
        case("empty key", "set", json!({"key": "", "value": "1"}), Ok),
        case(
            "key of 8,192 bytes",
            "set",
            json!({"key": at_limit_key, "value": "1"}),
            Ok,
        ),
        case(
            "key of 10 KB",
            "set",
            json!({"key": key_10k, "value": "1"}),
            Err("value_too_large", "8192"),
        ),
        case(
            "lock key over 8,192 bytes",
            "acquireLock",
            json!({"threadId": long_key, "ttlMs": 1000}),
            Err("value_too_large", "8192"),
        ),
        case(
            "unicode key",
            "set",
            json!({"key": "ключ🙂", "value": "1"}),
            Ok,
        ),
        case(
            "SQL-looking key",
            "set",
            json!({"key": "'); DROP TABLE cs_kv; --", "value": "1"}),
            Ok,
        ),
        case(
            "TTL null (NaN from JavaScript)",
            "set",
            json!({"key": "t", "value": "1", "ttlMs": null}),
            Ok,
        ),
        case(
            "TTL negative",
            "set",
            json!({"key": "t", "value": "1", "ttlMs": -5}),
            Ok,
        ),
        case(
            "TTL fractional",
            "set",
            json!({"key": "t", "value": "1", "ttlMs": 0.5}),
            Ok,
        ),
        case(
            "TTL 1e300",
            "set",
            json!({"key": "t", "value": "1", "ttlMs": 1e300}),
            Err("invalid_argument", "2^63"),
        ),
        case(
            "TTL as a string",
            "set",
            json!({"key": "t", "value": "1", "ttlMs": "10"}),
            Err("invalid_argument", "ttlMs"),
        ),
        case(
            "lock without TTL",
            "acquireLock",
            json!({"threadId": "t"}),
            Err("invalid_argument", "ttlMs"),
        ),
        case(
            "lock TTL huge (2^63)",
            "acquireLock",
            json!({"threadId": "h", "ttlMs": 9.223372036854776e18}),
            Ok,
        ),
        case(
            "maxLength 0",
            "appendToList",
            json!({"key": "m0", "value": "1", "maxLength": 0}),
            Ok,
        ),
        case(
            "maxLength negative",
            "appendToList",
            json!({"key": "m1", "value": "1", "maxLength": -3}),
            Ok,
        ),
        case(
            "maxLength huge (1e300)",
            "appendToList",
            json!({"key": "m2", "value": "1", "maxLength": 1e300}),
            Err("invalid_argument", "maxLength"),
        ),
        case(
            "maxSize 0",
            "enqueue",
            json!({"threadId": "s0", "entry": entry(9e15), "enqueuedAt": 1, "expiresAt": 9e15, "maxSize": 0}),
            Ok,
        ),
        case(
            "maxSize negative",
            "enqueue",
            json!({"threadId": "s1", "entry": entry(9e15), "enqueuedAt": 1, "expiresAt": 9e15, "maxSize": -1}),
            Ok,
        ),
        case(
            "maxSize huge (1e300)",
            "enqueue",
            json!({"threadId": "s2", "entry": entry(9e15), "enqueuedAt": 1, "expiresAt": 9e15, "maxSize": 1e300}),
            Err("invalid_argument", "maxSize"),
        ),
        case(
            "entry without expiresAt",
            "enqueue",
            json!({"threadId": "s3", "entry": "{}", "enqueuedAt": 1}),
            Err("invalid_argument", "expiresAt"),
        ),
        case(
            "entry time beyond 2^53",
            "enqueue",
            json!({"threadId": "s4", "entry": "{}", "enqueuedAt": 1, "expiresAt": 1e17}),
            Err("invalid_argument", "expiresAt"),
        ),
        case(
            "value JSON null",
            "set",
            json!({"key": "n", "value": "null"}),
            Ok,
        ),
        case(
            "value missing (undefined)",
            "set",
            json!({"key": "u"}),
            Err("invalid_argument", "value"),
        ),
        case(
            "key missing",
            "get",
            json!({}),
            Err("invalid_argument", "key"),
        ),
        case(
            "unknown operation",
            "teleport",
            json!({}),
            Err("unsupported_op", "teleport"),
        ),
    ]
}

#[tokio::test]
async fn every_bad_input_gets_storage_or_a_clear_error() -> TestResult {
    let state = SqliteState::builder_in_memory()
        .clock(Arc::new(ManualClock::new(1_700_000_000_000)))
        .sweep_interval(None)
        .build();
    state.connect().await?;
    // A sentinel that must survive every failed call untouched.
    state.set("sentinel", &json!("intact"), None).await?;
    state
        .append_to_list("l", &json!("before"), ListOptions::default())
        .await?;

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for c in cases() {
        let request = json!({"v": 1, "op": c.op, "args": c.args}).to_string();
        let reply: Value = serde_json::from_str(&state.serve(request).await?)?;
        let outcome = match (&reply["err"], c.expect) {
            (Value::Null, Expect::Ok) => "stored".to_owned(),
            (err, Expect::Err(code, text))
                if err["code"] == code
                    && err["message"].as_str().is_some_and(|m| m.contains(text)) =>
            {
                format!("{code}: {}", err["message"].as_str().unwrap_or(""))
            }
            (err, expect) => {
                failures.push(format!("{}: expected {expect:?}, got {reply}", c.name));
                format!("UNEXPECTED {err}")
            }
        };
        rows.push((c.name, c.op, outcome));
    }
    // Nothing was half-written by the refused calls.
    assert_eq!(state.get("sentinel").await?, Some(json!("intact")));
    assert_eq!(state.get_list("l").await?, vec![json!("before")]);
    assert_eq!(state.queue_depth("s3").await?, 0);
    assert_eq!(state.queue_depth("s2").await?, 0);
    assert_eq!(state.get_list("m2").await?, Vec::<Value>::new());

    println!("| case | operation | outcome |\n|---|---|---|");
    for (name, op, outcome) in &rows {
        let shown: String = outcome.chars().take(110).collect();
        println!("| {name} | {op} | {shown} |");
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}
