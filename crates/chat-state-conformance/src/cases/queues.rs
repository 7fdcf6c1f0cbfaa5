//! Queues: FIFO order, per-entry expiry, bounds.

use std::collections::HashSet;

use chat_state::{QueueEntry, StateAdapter};
use serde_json::json;

use super::{ensure, ensure_eq, ready};
use crate::{Harness, TestResult};

fn entry(now: i64, ttl: i64, id: impl Into<serde_json::Value>) -> QueueEntry {
    QueueEntry {
        enqueued_at: now,
        expires_at: now + ttl,
        message: json!({"id": id.into(), "text": "hello", "raw": null}),
    }
}

/// 2.7: entries come back oldest first, exactly as enqueued; an unknown
/// queue is empty.
pub async fn queue_is_fifo_and_round_trips_entries<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    ensure_eq!(a.dequeue("q").await?, None);
    ensure_eq!(a.queue_depth("q").await?, 0);
    let now = h.now(&a).await;
    let sent: Vec<QueueEntry> = (0..5).map(|i| entry(now - 7, 90_000 + i, i)).collect();
    for e in &sent {
        a.enqueue("q", e, 10).await?;
    }
    for e in &sent {
        ensure_eq!(a.dequeue("q").await?.as_ref(), Some(e));
    }
    ensure_eq!(a.dequeue("q").await?, None);
    Ok(())
}

/// 2.7 step 5: enqueue returns the live depth, which equals `queueDepth`;
/// an already-dead entry is not stored.
pub async fn enqueue_returns_the_live_depth<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    ensure_eq!(a.enqueue("q", &entry(now, -1, "dead"), 10).await?, 0);
    ensure_eq!(a.enqueue("q", &entry(now, 0, "now"), 10).await?, 0);
    ensure_eq!(a.enqueue("q", &entry(now, 1_000, "live"), 10).await?, 1);
    ensure_eq!(a.queue_depth("q").await?, 1);
    ensure_eq!(a.enqueue("q", &entry(now, 50, "short"), 10).await?, 2);
    h.advance(&a, 50).await;
    ensure_eq!(a.queue_depth("q").await?, 1);
    ensure_eq!(a.enqueue("q", &entry(now, 2_000, "late"), 10).await?, 2);
    Ok(())
}

/// 2.7: entries expire one by one; dead entries are neither returned nor
/// counted, exactly from their `expiresAt`.
pub async fn dead_entries_are_never_returned_or_counted<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    a.enqueue("q", &entry(now, 100, 1), 0).await?;
    a.enqueue("q", &entry(now, 300, 2), 0).await?;
    a.enqueue("q", &entry(now, 200, 3), 0).await?;
    h.advance(&a, 100).await;
    ensure_eq!(a.queue_depth("q").await?, 2);
    ensure_eq!(a.dequeue("q").await?, Some(entry(now, 300, 2)));
    h.advance(&a, 100).await;
    ensure_eq!(a.queue_depth("q").await?, 0);
    ensure_eq!(a.dequeue("q").await?, None);
    Ok(())
}

/// 2.7 step 4: with `maxSize > 0`, the oldest live entries are dropped and
/// the new entry always survives; dead entries do not count toward it.
pub async fn max_size_drops_the_oldest_live_entries<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    a.enqueue("q", &entry(now, 10, "dies"), 2).await?;
    for i in 0..5 {
        a.enqueue("q", &entry(now, 10_000, i), 3).await?;
    }
    h.advance(&a, 10).await;
    ensure_eq!(a.enqueue("q", &entry(now, 10_000, 5), 3).await?, 3);
    ensure_eq!(a.enqueue("q", &entry(now, 10_000, 6), 1).await?, 1);
    ensure_eq!(a.dequeue("q").await?, Some(entry(now, 10_000, 6)));
    // A dead entry evicts nothing.
    a.enqueue("q", &entry(now, 10_000, 7), 1).await?;
    ensure_eq!(a.enqueue("q", &entry(now, -5, 8), 1).await?, 1);
    ensure_eq!(a.dequeue("q").await?, Some(entry(now, 10_000, 7)));
    Ok(())
}

/// G7 and R14: a `maxSize` of zero or less means unbounded; it never drops
/// the entry just written.
pub async fn non_positive_max_size_is_unbounded<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    for (i, max) in [0, -1, 0, -10].into_iter().enumerate() {
        ensure_eq!(
            a.enqueue("q", &entry(now, 10_000, i), max).await?,
            i as u64 + 1
        );
    }
    ensure_eq!(a.queue_depth("q").await?, 4);
    Ok(())
}

/// G10: concurrent dequeues never return the same entry, and none returns
/// `None` while entries remain.
pub async fn concurrent_dequeues_never_share_an_entry<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    for i in 0..64 {
        a.enqueue("q", &entry(now, 60_000, i), 0).await?;
    }
    let results = futures::future::join_all((0..64).map(|_| a.dequeue("q"))).await;
    let mut ids = HashSet::new();
    for r in results {
        let e = r?.ok_or("a dequeue returned None while entries remained")?;
        ensure!(
            ids.insert(e.message["id"].to_string()),
            "entry {} returned twice",
            e.message
        );
    }
    ensure_eq!(ids.len(), 64);
    ensure_eq!(a.dequeue("q").await?, None);
    Ok(())
}
