//! The cleanup alarm, and the test-only operations.
//!
//! One alarm per object covers every cache key, list and queue entry that
//! has an expiry: it is armed no later than the earliest expiry plus a
//! coalescing window `G` (default 60 s, `CHAT_STATE_ALARM_WINDOW_MS`).
//! Reads are strict without it; the window only delays reclaiming storage.
//!
//! - A write moves the alarm only earlier, never later, and calls
//!   `setAlarm` only when the armed time is missing or later than its
//!   expiry plus `G`. The armed time is kept in memory, loaded with
//!   `getAlarm` once per wake.
//! - On the first call after a wake, and on the next call after a failed
//!   `setAlarm`, the earliest expiry is taken from the expiry indexes and
//!   armed for if the armed time is later: this repairs a `setAlarm` that
//!   failed after its call committed.
//! - The handler purges due rows in bounded batches, then re-arms for what
//!   remains (soon, if the batch bound was hit). If the purge fails it
//!   re-arms with capped exponential backoff instead of throwing, so the
//!   platform's own retries never stack on ours.

use std::cell::Cell;

use chat_state::{Error, Purge, Result};
use serde::Deserialize;
use serde_json::json;
use worker::ScheduledTime;

use crate::object::Shard;

/// The last instant a JavaScript `Date` can hold.
const MAX_DATE_MS: i64 = 8_640_000_000_000_000;
/// Default coalescing window.
pub(crate) const DEFAULT_WINDOW_MS: i64 = 60_000;
/// Most rows deleted per table in one alarm run.
const BATCH: u32 = 1_000;
/// Delay before the next run when the batch bound was hit.
const MORE_DUE_DELAY_MS: i64 = 250;
/// Backoff after a failed run: 1 s doubling to at most 5 min.
const BACKOFF_START_MS: i64 = 1_000;
const BACKOFF_MAX_MS: i64 = 300_000;

/// What the object knows about its alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Armed {
    /// Not read since the object woke.
    Unknown,
    /// Known: `None` for no alarm, else the engine time it fires at.
    Known(Option<i64>),
}

pub(crate) struct Alarm {
    window_ms: i64,
    armed: Cell<Armed>,
    /// Whether the wake-time repair has run.
    repaired: Cell<bool>,
    /// Consecutive failed runs, for the backoff.
    failures: Cell<u32>,
    /// Alarm runs and `setAlarm` calls since this instance woke.
    pub(crate) runs: Cell<u64>,
    pub(crate) set_calls: Cell<u64>,
    /// Test-only: how many of the next runs fail on purpose.
    fail_next: Cell<u32>,
    /// Test-only: how many of the next `setAlarm` calls fail on purpose.
    fail_set: Cell<u32>,
}

impl Alarm {
    pub(crate) fn new(window_ms: i64) -> Self {
        Self {
            window_ms,
            armed: Cell::new(Armed::Unknown),
            repaired: Cell::new(false),
            failures: Cell::new(0),
            runs: Cell::new(0),
            set_calls: Cell::new(0),
            fail_next: Cell::new(0),
            fail_set: Cell::new(0),
        }
    }

    async fn armed(&self, obj: &Shard) -> Result<Option<i64>> {
        if let Armed::Known(at) = self.armed.get() {
            return Ok(at);
        }
        let real = obj
            .storage()
            .get_alarm()
            .await
            .map_err(|e| crate::sql::storage_error("getAlarm", e))?;
        let at = real.map(|r| obj.clock.engine_time(r));
        self.armed.set(Armed::Known(at));
        Ok(at)
    }

    async fn set(&self, obj: &Shard, at: i64) -> Result<()> {
        // A JavaScript Date ends at 8.64e15 ms (year 275760); expiries may
        // saturate later than that.
        let real = obj.clock.to_real(at).min(MAX_DATE_MS);
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(real as f64));
        // Forget the armed time first: if setAlarm fails, the next call
        // reads it again and repairs from the expiry indexes, so an expiry
        // whose arming failed is still covered.
        self.armed.set(Armed::Unknown);
        let result = if self.fail_set.get() > 0 {
            self.fail_set.set(self.fail_set.get() - 1);
            Err(Error::storage(
                "setAlarm",
                "failure injected by test.failSetAlarm",
            ))
        } else {
            obj.storage()
                .set_alarm(ScheduledTime::new(date))
                .await
                .map_err(|e| crate::sql::storage_error("setAlarm", e))
        };
        if let Err(error) = result {
            self.repaired.set(false);
            return Err(error);
        }
        self.armed.set(Armed::Known(Some(at)));
        self.set_calls.set(self.set_calls.get() + 1);
        Ok(())
    }

    /// Whether a call that stored `expiry` has alarm work to do: the
    /// once-per-wake repair, reading the armed time, or moving it earlier.
    pub(crate) fn needs_work(&self, expiry: Option<i64>) -> bool {
        if !self.repaired.get() {
            return true;
        }
        let Some(e) = expiry else { return false };
        match self.armed.get() {
            Armed::Known(Some(at)) => at > e.saturating_add(self.window_ms),
            _ => true,
        }
    }

    /// After a committed call that stored `expiry`: arm if nothing armed
    /// covers it.
    pub(crate) async fn after_call(&self, obj: &Shard, expiry: Option<i64>) {
        if let Err(error) = self.try_after_call(obj, expiry).await {
            worker::console_error!("chat-state: arming the cleanup alarm failed: {error}");
        }
    }

    async fn try_after_call(&self, obj: &Shard, expiry: Option<i64>) -> Result<()> {
        let mut target = expiry.map(|e| e.saturating_add(self.window_ms));
        if target.is_none() && self.repaired.get() {
            return Ok(());
        }
        let armed = self.armed(obj).await?;
        if !self.repaired.get() {
            // Once per wake, and again after a failed setAlarm: whatever is
            // armed (or not) may miss an expiry whose arming failed, so take
            // the earliest expiry from the indexes (one seek per table).
            self.repaired.set(true);
            let (next, cost) = obj.transaction({
                let engine = obj.engine.clone();
                move |conn| (engine.next_expiry(conn), true)
            })?;
            obj.count(cost);
            let repair = next?.map(|e| e.saturating_add(self.window_ms));
            target = match (target, repair) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        match target {
            Some(t) if armed.is_none_or(|a| a > t) => self.set(obj, t).await,
            _ => Ok(()),
        }
    }

    /// The alarm handler.
    pub(crate) async fn fired(&self, obj: &Shard) {
        self.armed.set(Armed::Known(None));
        self.runs.set(self.runs.get() + 1);
        let now = obj.engine.now();
        let next = match self.purge(obj, now, BATCH) {
            Ok(purge) => {
                self.failures.set(0);
                if purge.more_due {
                    Some(now + MORE_DUE_DELAY_MS)
                } else {
                    purge
                        .next_expiry
                        .map(|e| e.saturating_add(self.window_ms).max(now + 1))
                }
            }
            Err(error) => {
                let failures = self.failures.get().saturating_add(1);
                self.failures.set(failures);
                let backoff = BACKOFF_START_MS
                    .saturating_mul(1_i64 << failures.min(20).saturating_sub(1))
                    .min(BACKOFF_MAX_MS);
                worker::console_error!(
                    "chat-state: cleanup failed ({failures} in a row), retrying in {backoff} ms: {error}"
                );
                Some(now + backoff)
            }
        };
        if let Some(at) = next {
            if let Err(error) = self.set(obj, at).await {
                worker::console_error!("chat-state: re-arming the cleanup alarm failed: {error}");
            }
        }
    }

    fn purge(&self, obj: &Shard, now: i64, batch: u32) -> Result<Purge> {
        if self.fail_next.get() > 0 {
            self.fail_next.set(self.fail_next.get() - 1);
            return Err(Error::storage(
                "purge",
                "failure injected by test.failAlarm",
            ));
        }
        obj.ready()?;
        let engine = obj.engine.clone();
        let (purge, cost) = obj.transaction(move |conn| {
            let r = engine.purge_expired(conn, now, batch);
            let ok = r.is_ok();
            (r, ok)
        })?;
        obj.count(cost);
        purge
    }
}

#[derive(Deserialize)]
struct HookRequest {
    op: String,
    #[serde(default)]
    args: serde_json::Value,
}

fn ok(value: serde_json::Value) -> String {
    json!({"v": chat_state::wire::VERSION, "ok": value}).to_string()
}

fn arg_i64(args: &serde_json::Value, name: &str) -> Result<i64> {
    args[name].as_i64().ok_or_else(|| Error::Protocol {
        message: format!("test hook argument {name} must be an integer"),
    })
}

fn arg_str<'a>(args: &'a serde_json::Value, name: &str) -> Result<&'a str> {
    args[name].as_str().ok_or_else(|| Error::Protocol {
        message: format!("test hook argument {name} must be a string"),
    })
}

const COUNTS: &[(&str, &str)] = &[
    ("subscriptions", "SELECT COUNT(*) FROM cs_subscriptions"),
    ("locks", "SELECT COUNT(*) FROM cs_locks"),
    ("cacheKeys", "SELECT COUNT(*) FROM cs_kv"),
    ("lists", "SELECT COUNT(*) FROM cs_lists"),
    ("listRows", "SELECT COUNT(*) FROM cs_list_items"),
    ("queueEntries", "SELECT COUNT(*) FROM cs_queue"),
];

/// Operations for tests and the inspector: `inspect`, `test.now`,
/// `test.advance`, `test.purge`, `test.writeRaw`, `test.seed`,
/// `test.failAlarm`, `test.failSetAlarm`.
pub(crate) async fn host_op(obj: &Shard, request: &str) -> Result<String> {
    let req: HookRequest = serde_json::from_str(request).map_err(|e| Error::Protocol {
        message: format!("bad test hook request: {e}"),
    })?;
    obj.ready()?;
    let args = &req.args;
    match req.op.as_str() {
        "test.now" => {
            obj.clock.freeze();
            Ok(ok(json!(obj.engine.now())))
        }
        "test.advance" => {
            obj.clock.advance(arg_i64(args, "ms")?);
            Ok(ok(json!(obj.engine.now())))
        }
        "test.seed" => {
            // Many live cache keys in one transaction, for cost tests.
            let count = arg_i64(args, "count")?;
            let ttl = arg_i64(args, "ttlMs")?;
            let prefix = arg_str(args, "prefix")?.to_owned();
            let engine = obj.engine.clone();
            let (result, _) = obj.transaction(move |conn| {
                let r = (0..count).try_for_each(|i| {
                    engine
                        .set(conn, &format!("{prefix}{i}"), "true", Some(ttl))
                        .map(drop)
                });
                let ok = r.is_ok();
                (r, ok)
            })?;
            result?;
            Ok(ok(json!(count)))
        }
        "test.failSetAlarm" => {
            obj.alarm
                .fail_set
                .set(u32::try_from(arg_i64(args, "times")?).unwrap_or(0));
            Ok(ok(json!(null)))
        }
        "test.failAlarm" => {
            obj.alarm
                .fail_next
                .set(u32::try_from(arg_i64(args, "times")?).unwrap_or(0));
            Ok(ok(json!(null)))
        }
        "test.purge" => {
            let purge = obj.alarm.purge(obj, obj.engine.now(), u32::MAX)?;
            Ok(ok(json!({
                "deleted": purge.deleted,
                "moreDue": purge.more_due,
                "nextExpiry": purge.next_expiry,
            })))
        }
        "test.writeRaw" => {
            let store = arg_str(args, "store")?.to_owned();
            let key = arg_str(args, "key")?.to_owned();
            let text = arg_str(args, "text")?.to_owned();
            let prefix = obj.engine.prefix().to_owned();
            let now = obj.engine.now();
            let (result, _) = obj.transaction(move |conn| {
                let r = write_raw(conn, &store, &prefix, &key, &text, now);
                let ok = r.is_ok();
                (r, ok)
            })?;
            result?;
            Ok(ok(json!(null)))
        }
        "inspect" => {
            let (counts, _) = obj.transaction(|conn| {
                let mut out = serde_json::Map::new();
                for (name, sql) in COUNTS {
                    let n = chat_state::sql::SqlConn::query(conn, sql, &[])
                        .ok()
                        .and_then(|rows| {
                            rows.first()
                                .and_then(|r| r.first())
                                .and_then(|c| c.as_i64())
                        });
                    out.insert((*name).to_owned(), json!(n));
                }
                (out, true)
            })?;
            let armed = obj
                .storage()
                .get_alarm()
                .await
                .map_err(|e| crate::sql::storage_error("getAlarm", e))?;
            let t = obj.totals.get();
            Ok(ok(json!({
                "counts": counts,
                "alarmAt": armed,
                "alarmRuns": obj.alarm.runs.get(),
                "setAlarmCalls": obj.alarm.set_calls.get(),
                "calls": t.calls,
                "rowsRead": t.rows_read,
                "rowsWritten": t.rows_written,
                "now": obj.engine.now(),
            })))
        }
        other => Err(Error::Protocol {
            message: format!("unknown test hook {other}"),
        }),
    }
}

fn write_raw(
    conn: &mut crate::sql::DoSql<'_>,
    store: &str,
    prefix: &str,
    key: &str,
    text: &str,
    now: i64,
) -> Result<()> {
    use chat_state::sql::{Param, SqlConn};
    let (p, k, t) = (Param::Text(prefix), Param::Text(key), Param::Text(text));
    match store {
        "cache" => conn.execute(
            "INSERT OR REPLACE INTO cs_kv (prefix, key, value, expires_at) VALUES (?1, ?2, ?3, NULL)",
            &[p, k, t],
        ),
        "list" => {
            conn.execute(
                "INSERT INTO cs_lists (prefix, key, expires_at, next_seq, len) VALUES (?1, ?2, NULL, 0, 0)
                 ON CONFLICT DO NOTHING",
                &[p, k],
            )?;
            conn.execute(
                "INSERT INTO cs_list_items (prefix, key, seq, value)
                 SELECT ?1, ?2, next_seq, ?3 FROM cs_lists WHERE prefix = ?1 AND key = ?2",
                &[p, k, t],
            )?;
            conn.execute(
                "UPDATE cs_lists SET next_seq = next_seq + 1, len = len + 1 WHERE prefix = ?1 AND key = ?2",
                &[p, k],
            )
        }
        "queue" => conn.execute(
            "INSERT INTO cs_queue (prefix, key, seq, enqueued_at, expires_at, entry)
             SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5
             FROM cs_queue WHERE prefix = ?1 AND key = ?2",
            &[p, k, Param::Int(now), Param::Int(now + 60_000), t],
        ),
        other => Err(Error::Protocol {
            message: format!("unknown store {other}"),
        }),
    }
}
