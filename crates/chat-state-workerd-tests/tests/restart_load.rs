//! Restart under load: writers keep calling the object while the runtime is
//! killed (SIGKILL) and restarted on the same persistence folder, several
//! times. Afterwards every acknowledged write is present, and nothing is
//! duplicated.
#![cfg(feature = "workerd")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chat_state_workerd_tests::Runtime;
use serde_json::{json, Value};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const OBJECT: &str = "restart-under-load";
const WRITERS: usize = 4;
const CRASHES: usize = 3;

/// What one writer had acknowledged, and what it attempted.
#[derive(Default)]
struct Ledger {
    sets: BTreeSet<String>,
    enqueued: BTreeSet<String>,
    appended: BTreeSet<String>,
    locks: BTreeSet<String>,
    attempted: usize,
    failed: usize,
}

fn writer(id: usize, runtime: Arc<RwLock<Option<Runtime>>>, stop: Arc<AtomicBool>) -> Ledger {
    let mut ledger = Ledger::default();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let tag = format!("w{id}-{i}");
        let (op, args) = match i % 4 {
            0 => (
                "set",
                json!({"key": format!("k:{tag}"), "value": format!("\"{tag}\"")}),
            ),
            1 => {
                let entry = json!({"enqueuedAt": 1, "expiresAt": 9_000_000_000_000_i64, "message": {"id": tag}});
                (
                    "enqueue",
                    json!({"threadId": format!("q{id}"), "entry": entry.to_string(),
                    "enqueuedAt": 1, "expiresAt": 9_000_000_000_000_i64, "maxSize": 0}),
                )
            }
            2 => (
                "appendToList",
                json!({"key": format!("l{id}"), "value": format!("\"{tag}\"")}),
            ),
            _ => (
                "acquireLock",
                json!({"threadId": format!("lock:{tag}"), "ttlMs": 3_600_000}),
            ),
        };
        ledger.attempted += 1;
        let result = {
            let guard = runtime.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(rt) => rt.call(OBJECT, op, args),
                None => Err(chat_state::Error::storage("test", "runtime down")),
            }
        };
        match result {
            Ok(reply) => {
                match op {
                    "set" => ledger.sets.insert(tag),
                    "enqueue" => ledger.enqueued.insert(tag),
                    "appendToList" => ledger.appended.insert(tag),
                    _ if reply["token"].is_string() => ledger.locks.insert(tag),
                    _ => false,
                };
            }
            Err(_) => {
                ledger.failed += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    ledger
}

#[test]
fn acknowledged_writes_survive_crashes_and_nothing_is_duplicated() -> TestResult {
    let dir = tempfile::tempdir()?;
    let runtime = Arc::new(RwLock::new(Some(Runtime::start(dir.path(), 60_000)?)));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|id| {
            let (runtime, stop) = (runtime.clone(), stop.clone());
            std::thread::spawn(move || writer(id, runtime, stop))
        })
        .collect();

    for _ in 0..CRASHES {
        std::thread::sleep(Duration::from_millis(800));
        let running = runtime.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rt) = running {
            rt.crash();
        }
        std::thread::sleep(Duration::from_millis(100));
        let restarted = Runtime::start(dir.path(), 60_000)?;
        *runtime.write().unwrap_or_else(|p| p.into_inner()) = Some(restarted);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let ledgers: Vec<Ledger> = writers
        .into_iter()
        .map(|w| w.join().map_err(|_| "a writer panicked"))
        .collect::<Result<_, _>>()?;

    let guard = runtime.read().unwrap_or_else(|p| p.into_inner());
    let rt = guard.as_ref().ok_or("no runtime")?;
    let mut figures: BTreeMap<&str, [usize; 4]> = BTreeMap::new(); // acked, found, lost, duplicated
    let (mut attempted, mut failed) = (0, 0);
    for (id, ledger) in ledgers.iter().enumerate() {
        attempted += ledger.attempted;
        failed += ledger.failed;

        let f = figures.entry("set").or_default();
        for tag in &ledger.sets {
            f[0] += 1;
            let v = rt.call(OBJECT, "get", json!({"key": format!("k:{tag}")}))?;
            if v == json!(format!("\"{tag}\"")) {
                f[1] += 1
            } else {
                f[2] += 1
            }
        }

        let mut seen: Vec<String> = Vec::new();
        loop {
            let v = rt.call(OBJECT, "dequeue", json!({"threadId": format!("q{id}")}))?;
            let Some(text) = v.as_str() else { break };
            let entry: Value = serde_json::from_str(text)?;
            seen.push(entry["message"]["id"].as_str().unwrap_or("").to_owned());
        }
        let f = figures.entry("enqueue").or_default();
        count(f, &ledger.enqueued, &seen);

        let items = rt.call(OBJECT, "getList", json!({"key": format!("l{id}")}))?;
        let seen: Vec<String> = items
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(|s| s.trim_matches('"').to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let f = figures.entry("appendToList").or_default();
        count(f, &ledger.appended, &seen);

        let f = figures.entry("acquireLock").or_default();
        for tag in &ledger.locks {
            f[0] += 1;
            let again = rt.call(
                OBJECT,
                "acquireLock",
                json!({"threadId": format!("lock:{tag}"), "ttlMs": 1_000}),
            )?;
            if again.is_null() {
                f[1] += 1
            } else {
                f[2] += 1
            }
        }
    }

    println!("restart under load: {WRITERS} writers, {CRASHES} SIGKILL restarts, {attempted} calls, {failed} failed while the runtime was down");
    println!(
        "{:<14} {:>12} {:>6} {:>5} {:>11}",
        "operation", "acknowledged", "found", "lost", "duplicated"
    );
    for (op, [acked, found, lost, dup]) in &figures {
        println!("{op:<14} {acked:>12} {found:>6} {lost:>5} {dup:>11}");
    }
    for (op, [acked, found, lost, dup]) in &figures {
        assert!(*acked > 0, "no {op} was acknowledged: the load did not run");
        assert_eq!(
            (*lost, *dup),
            (0, 0),
            "{op}: {acked} acknowledged, {found} found"
        );
    }
    assert!(
        failed > 0,
        "no call failed: the runtime was not really restarted under load"
    );
    Ok(())
}

/// Acknowledged entries must each be found once; unacknowledged ones may be
/// present (they were in flight) but never twice.
fn count(f: &mut [usize; 4], acked: &BTreeSet<String>, seen: &[String]) {
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for s in seen {
        *times.entry(s.as_str()).or_default() += 1;
    }
    f[0] += acked.len();
    for tag in acked {
        match times.get(tag.as_str()) {
            Some(_) => f[1] += 1,
            None => f[2] += 1,
        }
    }
    f[3] += times.values().filter(|n| **n > 1).count();
}
