//! The key-value cache.

use chat_state::{ListOptions, QueueEntry, StateAdapter};
use serde_json::{json, Value};

use super::{ensure, ensure_eq, ready};
use crate::{Harness, TestResult};

/// 2.5: a key never written reads as `None`.
pub async fn get_of_a_missing_key_is_none<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    ensure_eq!(a.get("dedupe:web:nothing").await?, None);
    Ok(())
}

/// G8: every JSON shape comes back structurally equal.
pub async fn values_round_trip_structurally<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let values = [
        json!({"name": "Ada", "nested": {"list": [1, 2.5, -3, true, null]}, "empty": {}}),
        json!([]),
        json!("a string with \"quotes\", \\ and \u{1F600}"),
        json!(0),
        json!(-12.75),
        json!(9_007_199_254_740_991_i64),
        json!(false),
        json!(""),
        json!({"ключ": "значение", "": ""}),
    ];
    for (i, v) in values.iter().enumerate() {
        let key = format!("k{i}");
        a.set(&key, v, None).await?;
        ensure_eq!(a.get(&key).await?.as_ref(), Some(v));
    }
    Ok(())
}

/// G6: absent and zero mean no expiry; a positive TTL ends exactly at
/// `now + ttl`.
pub async fn set_ttl_follows_the_ttl_rules<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.set("none", &json!(1), None).await?;
    a.set("zero", &json!(2), Some(0)).await?;
    a.set("short", &json!(3), Some(100)).await?;
    h.advance(&a, 99).await;
    ensure_eq!(a.get("short").await?, Some(json!(3)));
    h.advance(&a, 1).await;
    ensure_eq!(a.get("short").await?, None);
    h.advance(&a, 365 * 86_400_000).await;
    ensure_eq!(a.get("none").await?, Some(json!(1)));
    ensure_eq!(a.get("zero").await?, Some(json!(2)));
    a.set("huge", &json!(4), Some(i64::MAX)).await?;
    h.advance(&a, 100 * 365 * 86_400_000).await;
    ensure_eq!(a.get("huge").await?, Some(json!(4)));
    Ok(())
}

/// 2.5: a `set` without TTL over a key that had one makes it persistent,
/// and a `set` with TTL replaces a persistent key's expiry.
pub async fn set_without_ttl_makes_a_key_persistent<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.set("k", &json!("old"), Some(100)).await?;
    a.set("k", &json!("new"), None).await?;
    h.advance(&a, 1_000).await;
    ensure_eq!(a.get("k").await?, Some(json!("new")));
    a.set("k", &json!("short"), Some(50)).await?;
    h.advance(&a, 50).await;
    ensure_eq!(a.get("k").await?, None);
    Ok(())
}

/// G6: a negative TTL makes the key read as absent, removing any previous
/// value.
pub async fn set_with_negative_ttl_removes_the_old_value<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.set("k", &json!("old"), None).await?;
    a.set("k", &json!("new"), Some(-1)).await?;
    ensure_eq!(a.get("k").await?, None);
    ensure!(
        a.set_if_not_exists("k", &json!("again"), None).await?,
        "the dead value still counts as present"
    );
    Ok(())
}

/// 2.5: set-if-not-exists writes over a missing or dead value only, and
/// leaves a live value and its expiry untouched.
pub async fn set_if_not_exists_writes_only_over_nothing<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    ensure!(
        a.set_if_not_exists("d", &json!(1), Some(100)).await?,
        "first write refused"
    );
    h.advance(&a, 50).await;
    ensure!(
        !a.set_if_not_exists("d", &json!(2), Some(10_000)).await?,
        "overwrote"
    );
    ensure_eq!(a.get("d").await?, Some(json!(1)));
    // The refused call did not extend the expiry: still 100 ms from the start.
    h.advance(&a, 50).await;
    ensure_eq!(a.get("d").await?, None);
    ensure!(
        a.set_if_not_exists("d", &json!(3), None).await?,
        "dead value blocked"
    );
    h.advance(&a, 365 * 86_400_000).await;
    ensure!(
        !a.set_if_not_exists("d", &json!(4), Some(5)).await?,
        "persistent overwritten"
    );
    ensure_eq!(a.get("d").await?, Some(json!(3)));
    Ok(())
}

/// 2.5: with a negative TTL, set-if-not-exists returns `true` every time
/// while the key stays absent, and `false` over a live value.
pub async fn set_if_not_exists_with_negative_ttl_stays_absent<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    for _ in 0..3 {
        ensure!(
            a.set_if_not_exists("d", &json!(1), Some(-1)).await?,
            "refused"
        );
        ensure_eq!(a.get("d").await?, None);
    }
    a.set("d", &json!("live"), None).await?;
    ensure!(
        !a.set_if_not_exists("d", &json!(1), Some(-1)).await?,
        "wrote over live"
    );
    ensure_eq!(a.get("d").await?, Some(json!("live")));
    Ok(())
}

/// G8: a stored JSON `null` reads as `None` yet counts as present.
pub async fn stored_null_reads_as_none_but_is_present<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.set("n", &Value::Null, None).await?;
    ensure_eq!(a.get("n").await?, None);
    ensure!(
        !a.set_if_not_exists("n", &json!(1), None).await?,
        "null counted as absent"
    );
    a.delete("n").await?;
    ensure!(
        a.set_if_not_exists("n", &json!(1), None).await?,
        "delete left the key"
    );
    Ok(())
}

/// 2.5 and G3: delete removes the cache entry only, and is a no-op when
/// absent.
pub async fn delete_removes_only_the_cache_entry<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.delete("x").await?;
    let now = h.now(&a).await;
    a.set("x", &json!(1), None).await?;
    a.append_to_list("x", &json!(2), ListOptions::default())
        .await?;
    a.subscribe("x").await?;
    a.acquire_lock("x", 10_000).await?.ok_or("not acquired")?;
    let entry = QueueEntry {
        enqueued_at: now,
        expires_at: now + 10_000,
        message: json!(3),
    };
    a.enqueue("x", &entry, 0).await?;
    a.delete("x").await?;
    ensure_eq!(a.get("x").await?, None);
    ensure_eq!(a.get_list("x").await?, vec![json!(2)]);
    ensure!(a.is_subscribed("x").await?, "delete unsubscribed");
    ensure!(
        a.acquire_lock("x", 10).await?.is_none(),
        "delete released the lock"
    );
    ensure_eq!(a.queue_depth("x").await?, 1);
    Ok(())
}

/// G10: of 64 concurrent set-if-not-exists calls on a free key exactly one
/// returns `true`, round after round, and its value is the one stored.
pub async fn concurrent_set_if_not_exists_has_exactly_one_winner<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    for round in 0..10 {
        let key = format!("dedupe:web:{round}");
        let values: Vec<Value> = (0..64).map(|i| json!(i)).collect();
        let results = futures::future::join_all(
            values
                .iter()
                .map(|v| a.set_if_not_exists(&key, v, Some(600_000))),
        )
        .await;
        let mut winners = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            if r? {
                winners.push(i);
            }
        }
        ensure_eq!(winners.len(), 1);
        ensure_eq!(a.get(&key).await?, Some(json!(winners[0])));
    }
    Ok(())
}
