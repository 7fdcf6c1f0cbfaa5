//! ChatStateDO in the Workers runtime: alarms, restarts, the Rust client's
//! routing, storage costs, the original adapter's RPC methods, versions.
#![cfg(feature = "workerd")]

use std::time::{Duration, Instant};

use chat_state_workerd_tests::Runtime;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn inspect(rt: &Runtime, name: &str) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    Ok(rt.call(name, "inspect", json!({}))?)
}

/// Polls `inspect` until `done` holds, for at most `limit`.
fn wait_for(
    rt: &Runtime,
    name: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    let start = Instant::now();
    loop {
        let state = inspect(rt, name)?;
        if done(&state) || start.elapsed() > limit {
            return Ok(state);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cost(
    rt: &Runtime,
    name: &str,
    op: &str,
    args: Value,
) -> Result<(Value, u64, u64), Box<dyn std::error::Error + Send + Sync>> {
    let text = rt.post(
        &format!("do/{name}"),
        &json!({"v": 1, "op": op, "args": args, "stats": true}).to_string(),
    )?;
    let reply: Value = serde_json::from_str(&text)?;
    let read = reply["cost"]["rowsRead"]
        .as_u64()
        .ok_or("no cost in reply")?;
    let written = reply["cost"]["rowsWritten"]
        .as_u64()
        .ok_or("no cost in reply")?;
    Ok((reply["ok"].clone(), read, written))
}

#[test]
fn the_alarm_deletes_expired_rows_and_rearms() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 100)?;
    let obj = "alarm-rearm";
    for i in 0..3 {
        rt.call(
            obj,
            "set",
            json!({"key": format!("short-{i}"), "value": "1", "ttlMs": 200}),
        )?;
    }
    rt.call(
        obj,
        "set",
        json!({"key": "long", "value": "1", "ttlMs": 3_000}),
    )?;
    rt.call(
        obj,
        "appendToList",
        json!({"key": "l", "value": "1", "ttlMs": 200}),
    )?;
    let state = wait_for(&rt, obj, Duration::from_secs(5), |s| {
        s["counts"]["cacheKeys"] == 1 && s["counts"]["listRows"] == 0
    })?;
    assert_eq!(state["counts"]["cacheKeys"], 1, "{state}");
    assert_eq!(state["counts"]["lists"], 0, "{state}");
    assert!(state["alarmRuns"].as_u64() >= Some(1), "{state}");
    // Re-armed for the remaining key: no later than its expiry plus the window.
    let at = state["alarmAt"]
        .as_i64()
        .ok_or("no alarm armed for the remaining key")?;
    assert!(
        at <= state["now"].as_i64().unwrap_or(0) + 3_000 + 100,
        "{state}"
    );
    let state = wait_for(&rt, obj, Duration::from_secs(6), |s| {
        s["counts"]["cacheKeys"] == 0
    })?;
    assert_eq!(state["counts"]["cacheKeys"], 0, "{state}");
    assert!(
        state["alarmAt"].is_null(),
        "an alarm stayed armed with nothing to expire: {state}"
    );
    Ok(())
}

#[test]
fn fifty_short_keys_cause_at_most_three_alarm_runs() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The coalescing window of the contract's probe: 1 s.
    let rt = Runtime::start(dir.path(), 1_000)?;
    let obj = "alarm-coalesce";
    for i in 0..50 {
        rt.call(
            obj,
            "setIfNotExists",
            json!({"key": format!("dedupe:{i}"), "value": "true", "ttlMs": 200}),
        )?;
        std::thread::sleep(Duration::from_millis(10));
    }
    let state = wait_for(&rt, obj, Duration::from_secs(8), |s| {
        s["counts"]["cacheKeys"] == 0
    })?;
    assert_eq!(state["counts"]["cacheKeys"], 0, "{state}");
    let runs = state["alarmRuns"].as_u64().ok_or("no alarm count")?;
    let sets = state["setAlarmCalls"].as_u64().ok_or("no setAlarm count")?;
    println!("50 keys, 200 ms TTL, 10 ms apart: {runs} alarm runs, {sets} setAlarm calls");
    assert!((1..=3).contains(&runs), "{state}");
    assert!(sets <= 3, "{state}");
    Ok(())
}

#[test]
fn writes_call_set_alarm_only_when_it_moves_earlier() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 60_000)?;
    let obj = "alarm-once";
    for i in 0..200 {
        rt.call(
            obj,
            "setIfNotExists",
            json!({"key": format!("d{i}"), "value": "1", "ttlMs": 600_000 + i}),
        )?;
    }
    let state = inspect(&rt, obj)?;
    assert_eq!(state["setAlarmCalls"], 1, "{state}");
    Ok(())
}

#[test]
fn state_survives_a_runtime_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let obj = "restart";
    let token = {
        let rt = Runtime::start(dir.path(), 60_000)?;
        rt.call(obj, "subscribe", json!({"threadId": "web:u:c"}))?;
        rt.call(
            obj,
            "set",
            json!({"key": "thread-state:web:u:c", "value": "{\"n\":1}"}),
        )?;
        rt.call(
            obj,
            "appendToList",
            json!({"key": "msg-history:web:u:c", "value": "\"hi\"", "maxLength": 10}),
        )?;
        let lock = rt.call(
            obj,
            "acquireLock",
            json!({"threadId": "web:u:c", "ttlMs": 600_000}),
        )?;
        rt.stop();
        lock["token"].as_str().ok_or("no token")?.to_owned()
    };
    let rt = Runtime::start(dir.path(), 60_000)?;
    assert_eq!(
        rt.call(obj, "isSubscribed", json!({"threadId": "web:u:c"}))?,
        json!(true)
    );
    assert_eq!(
        rt.call(obj, "get", json!({"key": "thread-state:web:u:c"}))?,
        json!("{\"n\":1}")
    );
    assert_eq!(
        rt.call(obj, "getList", json!({"key": "msg-history:web:u:c"}))?,
        json!(["\"hi\""])
    );
    assert_eq!(
        rt.call(
            obj,
            "acquireLock",
            json!({"threadId": "web:u:c", "ttlMs": 1000})
        )?,
        Value::Null
    );
    let extended = rt.call(
        obj,
        "extendLock",
        json!({"threadId": "web:u:c", "token": token, "ttlMs": 1000}),
    )?;
    assert_eq!(extended, json!(true));
    Ok(())
}

#[test]
fn the_rust_client_routes_threads_and_keys_across_shards() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 60_000)?;
    let report = rt.get_json("rust-client/routing/run1")?;
    let threads = report["threads"].as_array().ok_or("no thread report")?;
    let expected = [
        ("slack:C1:T1", "run1/slack:C1"),
        ("slack:C1:T2", "run1/slack:C1"),
        ("slack:C2:T1", "run1/slack:C2"),
    ];
    for (t, (thread, object)) in threads.iter().zip(expected) {
        assert_eq!(t["thread"], thread);
        assert_eq!(t["object"], object, "{t}");
        assert_eq!(t["subscribedThere"], true, "{t}");
        assert_eq!(t["subscribedInDefault"], false, "{t}");
        assert_eq!(t["locked"], true, "{t}");
        let state: Value = serde_json::from_str(
            t["stateThere"]
                .as_str()
                .ok_or("thread state missing from its shard")?,
        )?;
        assert_eq!(state["t"], thread);
    }
    let buckets = report["dedupeBuckets"]
        .as_object()
        .ok_or("no bucket report")?;
    let total: u64 = buckets.values().filter_map(Value::as_u64).sum();
    assert_eq!(
        total, 64,
        "every dedupe key is found in the object it was routed to"
    );
    assert!(
        buckets.len() >= 12,
        "64 keys over 16 buckets used only {}",
        buckets.len()
    );
    assert!(
        buckets.keys().all(|k| k.starts_with("rt-run1#k")),
        "{buckets:?}"
    );
    Ok(())
}

#[test]
fn per_call_rows_stay_within_budget_and_flat_with_size() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 60_000)?;
    let obj = "cost";
    let mut lines = Vec::new();
    let mut measure = |label: &str,
                       op: &str,
                       args: Value|
     -> Result<(Value, u64, u64), Box<dyn std::error::Error + Send + Sync>> {
        let (ok, read, written) = cost(&rt, obj, op, args)?;
        lines.push(format!("{label:<40} read {read:>4}  written {written:>3}"));
        Ok((ok, read, written))
    };
    // Warm the object (migration) first.
    measure("get (first call, migrates)", "get", json!({"key": "x"}))?;
    let (_, r, w) = measure(
        "setIfNotExists ttl, new key",
        "setIfNotExists",
        json!({"key": "d:1", "value": "true", "ttlMs": 600000}),
    )?;
    assert!(r <= 5 && w <= 3, "setIfNotExists {r}/{w}");
    let (_, r, w) = measure(
        "set ttl",
        "set",
        json!({"key": "k", "value": "1", "ttlMs": 600000}),
    )?;
    assert!(r <= 5 && w <= 3, "set {r}/{w}");
    let (_, r, _) = measure("get hit", "get", json!({"key": "k"}))?;
    assert!(r <= 2, "get {r}");
    let (lock, r1, w1) = measure(
        "acquireLock",
        "acquireLock",
        json!({"threadId": "t", "ttlMs": 30000}),
    )?;
    let (_, r2, w2) = measure(
        "releaseLock",
        "releaseLock",
        json!({"threadId": "t", "token": lock["token"]}),
    )?;
    assert!(
        r1 + r2 <= 6 && w1 + w2 <= 4,
        "lock pair {}/{}",
        r1 + r2,
        w1 + w2
    );
    for i in 0..50 {
        rt.call(
            obj,
            "appendToList",
            json!({"key": "h", "value": format!("{i}"), "maxLength": 50, "ttlMs": 604800000}),
        )?;
    }
    let (_, r, w) = measure(
        "appendToList, full 50-item list, ttl",
        "appendToList",
        json!({"key": "h", "value": "51", "maxLength": 50, "ttlMs": 604800000}),
    )?;
    assert!(r <= 60 && w < 10, "append {r}/{w}");
    let (items, r, _) = measure("getList of 50", "getList", json!({"key": "h"}))?;
    assert_eq!(items.as_array().map(Vec::len), Some(50));
    assert!(r <= 53, "getList {r}");
    let entry =
        json!({"enqueuedAt": 1, "expiresAt": 9_000_000_000_000_i64, "message": {}}).to_string();
    let (_, r1, w1) = measure(
        "enqueue",
        "enqueue",
        json!({"threadId": "t", "entry": entry, "enqueuedAt": 1, "expiresAt": 9_000_000_000_000_i64, "maxSize": 10}),
    )?;
    let (_, r2, w2) = measure("dequeue", "dequeue", json!({"threadId": "t"}))?;
    assert!(
        r1 + r2 <= 6 && w1 + w2 <= 6,
        "queue pair {}/{}",
        r1 + r2,
        w1 + w2
    );

    // Grow the object to 20,000 live TTL keys: a TTL write still reads O(1) rows.
    let before = measure(
        "setIfNotExists ttl, 0 other keys",
        "setIfNotExists",
        json!({"key": "probe:0", "value": "1", "ttlMs": 600000}),
    )?;
    rt.call(
        obj,
        "test.seed",
        json!({"count": 20_000, "ttlMs": 600_000, "prefix": "dedupe:"}),
    )?;
    let after = measure(
        "setIfNotExists ttl, 20,000 other keys",
        "setIfNotExists",
        json!({"key": "probe:1", "value": "1", "ttlMs": 600000}),
    )?;
    assert_eq!(
        (before.1, before.2),
        (after.1, after.2),
        "cost grew with table size"
    );
    println!("{}", lines.join("\n"));
    Ok(())
}

#[test]
fn the_original_adapters_rpc_methods_keep_working() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 60_000)?;
    let legacy =
        |method: &str, args: Value| -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            let text = rt.post(
                "legacy/old-client",
                &json!({"method": method, "args": args}).to_string(),
            )?;
            let reply: Value = serde_json::from_str(&text)?;
            if !reply["error"].is_null() {
                return Err(format!("{method}: {}", reply["error"]).into());
            }
            Ok(reply["result"].clone())
        };
    legacy("subscribe", json!(["slack:C1:T1"]))?;
    assert_eq!(legacy("isSubscribed", json!(["slack:C1:T1"]))?, json!(true));
    let lock = legacy("acquireLock", json!(["slack:C1:T1", 30000]))?;
    assert_eq!(lock["threadId"], "slack:C1:T1");
    assert_eq!(
        legacy("acquireLock", json!(["slack:C1:T1", 30000]))?,
        Value::Null
    );
    assert_eq!(
        legacy("extendLock", json!(["slack:C1:T1", lock["token"], 30000]))?,
        json!(true)
    );
    legacy("releaseLock", json!(["slack:C1:T1", lock["token"]]))?;
    legacy("cacheSet", json!(["k", "{\"a\":1}", 60000]))?;
    assert_eq!(legacy("cacheGet", json!(["k"]))?, json!("{\"a\":1}"));
    assert_eq!(
        legacy("cacheSetIfNotExists", json!(["k", "2"]))?,
        json!(false)
    );
    legacy("cacheDelete", json!(["k"]))?;
    assert_eq!(legacy("cacheGet", json!(["k"]))?, Value::Null);
    legacy("listAppend", json!(["h", "\"a\"", 2, 60000]))?;
    legacy("listAppend", json!(["h", "\"b\"", 2]))?;
    legacy("listAppend", json!(["h", "\"c\"", 2]))?;
    assert_eq!(legacy("listGet", json!(["h"]))?, json!(["\"b\"", "\"c\""]));
    let entry =
        json!({"enqueuedAt": 1, "expiresAt": 9_000_000_000_000_i64, "message": {"id": "m"}})
            .to_string();
    assert_eq!(legacy("enqueue", json!(["q", entry, 10]))?, json!(1));
    assert_eq!(legacy("queueDepth", json!(["q"]))?, json!(1));
    assert_eq!(legacy("dequeue", json!(["q"]))?, json!(entry));
    // Errors keep their code.
    let text = rt.post(
        "legacy/old-client",
        &json!({"method": "acquireLock", "args": ["x"]}).to_string(),
    )?;
    let reply: Value = serde_json::from_str(&text)?;
    let message = reply["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("[invalid_argument]") && message.contains("ttlMs"),
        "{reply}"
    );
    Ok(())
}

#[test]
fn a_newer_protocol_version_gets_a_clear_version_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 60_000)?;
    let text = rt.post("do/versions", r#"{"v":2,"op":"get","args":{"key":"k"}}"#)?;
    let reply: Value = serde_json::from_str(&text)?;
    assert_eq!(reply["err"]["code"], "unsupported_version", "{reply}");
    assert_eq!(reply["err"]["cur"], 1);
    let text = rt.post("fetch/versions", r#"{"v":1,"op":"frobnicate","args":{}}"#)?;
    let reply: Value = serde_json::from_str(&text)?;
    assert_eq!(reply["err"]["code"], "unsupported_op", "{reply}");
    Ok(())
}

#[test]
fn a_failed_alarm_rearms_with_backoff() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 50)?;
    let obj = "alarm-fail";
    rt.call(obj, "test.failAlarm", json!({"times": 1}))?;
    rt.call(obj, "set", json!({"key": "k", "value": "1", "ttlMs": 50}))?;
    // The first run fails and re-arms about 1 s later; the second purges.
    let state = wait_for(&rt, obj, Duration::from_secs(2), |s| {
        s["alarmRuns"].as_u64() >= Some(1)
    })?;
    assert_eq!(state["alarmRuns"], 1, "{state}");
    assert_eq!(
        state["counts"]["cacheKeys"], 1,
        "the failed run deleted rows: {state}"
    );
    let armed = state["alarmAt"]
        .as_i64()
        .ok_or("not re-armed after a failure")?;
    assert!(
        armed >= state["now"].as_i64().unwrap_or(0) + 500,
        "re-armed too soon: {state}"
    );
    let state = wait_for(&rt, obj, Duration::from_secs(4), |s| {
        s["counts"]["cacheKeys"] == 0
    })?;
    assert_eq!(state["alarmRuns"], 2, "{state}");
    Ok(())
}

#[test]
fn later_writes_never_push_the_alarm_past_an_overdue_expiry() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A coalescing window of 100 ms, as in the contract's probe.
    let rt = Runtime::start(dir.path(), 100)?;
    let obj = "alarm-overdue";
    rt.call(
        obj,
        "appendToList",
        json!({"key": "l", "value": "1", "ttlMs": 100}),
    )?;
    let first = inspect(&rt, obj)?;
    let t0 = first["now"].as_i64().ok_or("no clock")?;
    let mut latest_alarm = first["alarmAt"]
        .as_i64()
        .ok_or("the list's expiry armed no alarm")?;
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < Duration::from_millis(600) {
        i += 1;
        rt.call(
            obj,
            "set",
            json!({"key": format!("later-{i}"), "value": "1", "ttlMs": 600_000}),
        )?;
        let state = inspect(&rt, obj)?;
        if state["counts"]["listRows"] == 0 {
            break;
        }
        if let Some(at) = state["alarmAt"].as_i64() {
            latest_alarm = latest_alarm.max(at);
        }
    }
    assert!(
        latest_alarm <= t0 + 200 + SLACK_MS,
        "a later write pushed the alarm to {} ms after the first write",
        latest_alarm - t0
    );
    let state = wait_for(&rt, obj, Duration::from_secs(3), |s| {
        s["counts"]["listRows"] == 0
    })?;
    assert_eq!(
        state["counts"]["listRows"], 0,
        "the expired list was never reclaimed: {state}"
    );
    assert_eq!(state["counts"]["lists"], 0, "{state}");
    Ok(())
}

/// Slack for the runtime's coarse clock.
const SLACK_MS: i64 = 20;

#[test]
fn a_failed_set_alarm_fails_no_call_and_is_repaired() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::start(dir.path(), 100)?;
    let obj = "set-alarm-fails";
    // Arm once so the wake-time repair is done, then let the next arming fail.
    rt.call(
        obj,
        "set",
        json!({"key": "warm", "value": "1", "ttlMs": 3_600_000}),
    )?;
    rt.call(obj, "test.failSetAlarm", json!({"times": 1}))?;
    // This write's expiry is earlier than the armed alarm, so it must arm,
    // and that fails: the call still succeeds and its effect is kept.
    rt.call(
        obj,
        "set",
        json!({"key": "short", "value": "1", "ttlMs": 200}),
    )?;
    assert_eq!(rt.call(obj, "get", json!({"key": "short"}))?, json!("1"));
    let lock = rt.call(
        obj,
        "acquireLock",
        json!({"threadId": "t", "ttlMs": 30_000}),
    )?;
    assert!(lock["token"].is_string());
    assert_eq!(
        rt.call(
            obj,
            "acquireLock",
            json!({"threadId": "t", "ttlMs": 30_000})
        )?,
        Value::Null
    );
    // The next write, with a later expiry, repairs from the expiry indexes
    // and arms for the short key, not for its own.
    rt.call(
        obj,
        "set",
        json!({"key": "later", "value": "1", "ttlMs": 600_000}),
    )?;
    let state = inspect(&rt, obj)?;
    let at = state["alarmAt"]
        .as_i64()
        .ok_or("no alarm after the repair")?;
    assert!(
        at <= state["now"].as_i64().unwrap_or(0) + 200 + 100 + SLACK_MS,
        "{state}"
    );
    let state = wait_for(&rt, obj, Duration::from_secs(3), |s| {
        s["counts"]["cacheKeys"] == 2
    })?;
    assert_eq!(
        state["counts"]["cacheKeys"], 2,
        "the short key was never reclaimed: {state}"
    );
    Ok(())
}
