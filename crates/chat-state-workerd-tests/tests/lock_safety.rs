//! Lock safety under concurrency, in the real runtime: many callers acquire,
//! extend, release and force-release leases on a few keys with short TTLs.
//! Every grant is recorded with bounds on when it began and ended, and no
//! two grants of one key may overlap in time, except right after a
//! force-release, which the contract allows to cut a live lease.
#![cfg(feature = "workerd")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chat_state_workerd_tests::Runtime;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const OBJECT: &str = "lock-safety";
const KEYS: [&str; 3] = ["a", "b", "c"];
const CALLERS: u64 = 8;
const ROUNDS: u64 = 60;
/// Slack for the runtime's coarse clock against this process's clock.
const SLACK_MS: i64 = 5;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One lease as seen by its holder.
#[derive(Debug, Clone)]
struct Grant {
    key: &'static str,
    token: String,
    /// When the object granted it (its clock): expiresAt - ttl.
    start: i64,
    /// The earliest moment the lease can have ended: its expiry as last
    /// extended (a lower bound), or when its release was sent.
    end_at_least: i64,
}

#[derive(Debug, Clone, Copy)]
struct Force {
    key: &'static str,
    /// When the force-release was sent and acknowledged.
    sent: i64,
    acked: i64,
}

/// A tiny deterministic generator, so that failures reproduce.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn no_two_live_grants_of_a_key_overlap() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = Arc::new(Runtime::start(dir.path(), 60_000)?);
    let grants = Arc::new(Mutex::new(Vec::<Grant>::new()));
    let forces = Arc::new(Mutex::new(Vec::<Force>::new()));

    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let (rt, grants, forces) = (rt.clone(), grants.clone(), forces.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut seed = 0x9e37_79b9_7f4a_7c15 ^ (caller + 1);
                for _ in 0..ROUNDS {
                    let key = KEYS[(next(&mut seed) % 3) as usize];
                    if next(&mut seed) % 20 == 0 {
                        let sent = now_ms();
                        rt.call(OBJECT, "forceReleaseLock", json!({"threadId": key}))
                            .map_err(|e| e.to_string())?;
                        let f = Force {
                            key,
                            sent,
                            acked: now_ms(),
                        };
                        forces.lock().map_err(|e| e.to_string())?.push(f);
                        continue;
                    }
                    let ttl = 20 + (next(&mut seed) % 60) as i64;
                    let lock = rt
                        .call(
                            OBJECT,
                            "acquireLock",
                            json!({"threadId": key, "ttlMs": ttl}),
                        )
                        .map_err(|e| e.to_string())?;
                    let Some(token) = lock["token"].as_str().map(str::to_owned) else {
                        std::thread::sleep(Duration::from_millis(next(&mut seed) % 10));
                        continue;
                    };
                    let expires_at = lock["expiresAt"].as_i64().ok_or("no expiry")?;
                    let mut grant = Grant {
                        key,
                        token,
                        start: expires_at - ttl,
                        end_at_least: expires_at,
                    };
                    // Hold it for a while, maybe extending, then release.
                    for _ in 0..(next(&mut seed) % 3) {
                        std::thread::sleep(Duration::from_millis(next(&mut seed) % (ttl as u64)));
                        let sent = now_ms();
                        let extended = rt
                            .call(
                                OBJECT,
                                "extendLock",
                                json!({"threadId": key, "token": grant.token, "ttlMs": ttl}),
                            )
                            .map_err(|e| e.to_string())?;
                        if extended == json!(true) {
                            grant.end_at_least = grant.end_at_least.max(sent + ttl - SLACK_MS);
                        }
                    }
                    if next(&mut seed) % 4 != 0 {
                        let sent = now_ms();
                        rt.call(
                            OBJECT,
                            "releaseLock",
                            json!({"threadId": key, "token": grant.token}),
                        )
                        .map_err(|e| e.to_string())?;
                        grant.end_at_least = grant.end_at_least.min(sent);
                    }
                    grants.lock().map_err(|e| e.to_string())?.push(grant);
                }
                Ok(())
            })
        })
        .collect();
    for c in callers {
        c.join().map_err(|_| "a caller panicked")??;
    }

    let grants = grants.lock().map_err(|e| e.to_string())?.clone();
    let forces = forces.lock().map_err(|e| e.to_string())?.clone();
    let mut overlaps = 0;
    let mut excused = 0;
    for key in KEYS {
        let mut of_key: Vec<&Grant> = grants.iter().filter(|g| g.key == key).collect();
        of_key.sort_by_key(|g| g.start);
        for pair in of_key.windows(2) {
            let (first, second) = (pair[0], pair[1]);
            if first.end_at_least <= second.start + SLACK_MS {
                continue;
            }
            // A force-release between the two may cut the first lease short.
            let forced = forces.iter().any(|f| {
                f.key == key
                    && f.acked >= first.start - SLACK_MS
                    && f.sent <= second.start + SLACK_MS
            });
            if forced {
                excused += 1;
            } else {
                overlaps += 1;
                eprintln!("overlap on {key}: {first:?} then {second:?}");
            }
        }
    }
    println!(
        "lock safety: {} grants on {} keys, {} force-releases, {excused} cut short by a force-release, {overlaps} overlaps",
        grants.len(),
        KEYS.len(),
        forces.len()
    );
    assert!(
        grants.len() > 50,
        "too few grants to say anything: {}",
        grants.len()
    );
    assert_eq!(overlaps, 0);
    Ok(())
}
