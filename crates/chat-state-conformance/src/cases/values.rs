//! Keys, values, limits, corrupt rows and the sweep.

use chat_state::limits::{MAX_BOUND, MAX_EXPIRY_MS, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use chat_state::{ErrorKind, ListOptions, QueueEntry, StateAdapter};
use serde_json::{json, Value};

use super::{ensure, ensure_eq, ready};
use crate::{Harness, RawStore, TestResult};

/// G3: one string names five unrelated things in the five stores.
pub async fn stores_are_separate_namespaces<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let k = "shared";
    let now = h.now(&a).await;
    a.acquire_lock(k, 10_000).await?.ok_or("not acquired")?;
    ensure_eq!(a.queue_depth(k).await?, 0);
    ensure_eq!(a.get(k).await?, None);
    ensure!(
        a.set_if_not_exists(k, &json!("kv"), None).await?,
        "lock blocked kv"
    );
    ensure_eq!(a.get_list(k).await?, Vec::<Value>::new());
    a.append_to_list(k, &json!("list"), ListOptions::default())
        .await?;
    ensure_eq!(a.get(k).await?, Some(json!("kv")));
    ensure!(!a.is_subscribed(k).await?, "a key is subscribed");
    let e = QueueEntry {
        enqueued_at: now,
        expires_at: now + 10_000,
        message: json!("queued"),
    };
    ensure_eq!(a.enqueue(k, &e, 0).await?, 1);
    a.subscribe(k).await?;
    a.force_release_lock(k).await?;
    ensure_eq!(a.get(k).await?, Some(json!("kv")));
    ensure_eq!(a.get_list(k).await?, vec![json!("list")]);
    ensure_eq!(a.dequeue(k).await?, Some(e));
    ensure!(a.is_subscribed(k).await?, "subscription lost");
    Ok(())
}

/// G11: keys are compared byte for byte, with no normalisation; SQL
/// syntax, unicode, empty strings and separators are stored verbatim.
pub async fn keys_are_stored_verbatim<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let keys = [
        "",
        ":",
        "k",
        "K",
        "k ",
        "'; DROP TABLE cs_kv; --",
        "\" OR 1=1 --",
        "a%_*?[]",
        "ключ",
        "🙂:thread",
        "e\u{301}",
        "\u{e9}",
        "line\nbreak\ttab",
        "slack:C1:T1",
        "slack:C1",
    ];
    for (i, k) in keys.iter().enumerate() {
        a.set(k, &json!(i), None).await?;
        a.append_to_list(k, &json!(i), ListOptions::default())
            .await?;
        a.subscribe(k).await?;
    }
    for (i, k) in keys.iter().enumerate() {
        ensure_eq!(a.get(k).await?, Some(json!(i)));
        ensure_eq!(a.get_list(k).await?, vec![json!(i)]);
        ensure!(a.is_subscribed(k).await?, "{k:?} not subscribed");
        let lock = a.acquire_lock(k, 1_000).await?.ok_or("not acquired")?;
        ensure_eq!(lock.thread_id.as_str(), *k);
    }
    ensure_eq!(a.get("k\u{0}").await?, None);
    Ok(())
}

/// G9 and R7: a value of exactly the limit round-trips through every store.
pub async fn values_up_to_the_limit_are_accepted<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    // A JSON string of n characters encodes to n + 2 bytes.
    let big = json!("x".repeat(MAX_VALUE_BYTES - 2));
    a.set("big", &big, None).await?;
    ensure!(
        a.get("big").await? == Some(big.clone()),
        "the largest value did not round-trip"
    );
    a.append_to_list("big", &big, ListOptions::default())
        .await?;
    ensure!(
        a.get_list("big").await? == vec![big],
        "the largest element did not round-trip"
    );
    let key = "k".repeat(MAX_KEY_BYTES);
    a.set(&key, &json!(1), None).await?;
    ensure_eq!(a.get(&key).await?, Some(json!(1)));
    Ok(())
}

/// G9 and R7: one byte over the value or key limit is refused with
/// `ValueTooLarge` naming the limit, and nothing changes.
pub async fn oversized_values_and_keys_are_refused_whole<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    a.set("k", &json!("before"), None).await?;
    a.append_to_list("k", &json!("before"), ListOptions::default())
        .await?;
    let too_big = json!("x".repeat(MAX_VALUE_BYTES - 1));
    let entry = QueueEntry {
        enqueued_at: now,
        expires_at: now + 10_000,
        message: too_big.clone(),
    };
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    let refusals = [
        ("set", a.set("k", &too_big, None).await.err()),
        (
            "setIfNotExists",
            a.set_if_not_exists("new", &too_big, None).await.err(),
        ),
        (
            "appendToList",
            a.append_to_list("k", &too_big, ListOptions::max_length(1))
                .await
                .err(),
        ),
        ("enqueue", a.enqueue("k", &entry, 1).await.err()),
        ("set key", a.set(&long_key, &json!(1), None).await.err()),
        (
            "acquireLock key",
            a.acquire_lock(&long_key, 1_000).await.err(),
        ),
        ("subscribe key", a.subscribe(&long_key).await.err()),
    ];
    for (what, err) in refusals {
        let err = err.ok_or(format!("{what} accepted an oversized input"))?;
        ensure!(err.kind() == ErrorKind::ValueTooLarge, "{what}: {err}");
        let text = err.to_string();
        ensure!(
            text.contains(&MAX_VALUE_BYTES.to_string())
                || text.contains(&MAX_KEY_BYTES.to_string()),
            "{what}: the message does not name the limit: {text}"
        );
    }
    ensure_eq!(a.get("k").await?, Some(json!("before")));
    ensure_eq!(a.get("new").await?, None);
    ensure_eq!(a.get_list("k").await?, vec![json!("before")]);
    ensure_eq!(a.queue_depth("k").await?, 0);
    ensure!(
        !a.is_subscribed(&long_key).await?,
        "oversized thread id stored"
    );
    Ok(())
}

/// A list or queue bound beyond what a JavaScript number states exactly is
/// refused as an invalid argument, and nothing is written.
pub async fn oversized_bounds_are_refused<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    let err = a
        .append_to_list("l", &json!(1), ListOptions::max_length(MAX_BOUND + 1))
        .await
        .err()
        .ok_or("a huge maxLength was accepted")?;
    ensure!(err.kind() == ErrorKind::InvalidArgument, "{err}");
    ensure!(err.to_string().contains("maxLength"), "{err}");
    let e = QueueEntry {
        enqueued_at: now,
        expires_at: now + 1_000,
        message: json!(1),
    };
    let err = a
        .enqueue("q", &e, i64::MAX)
        .await
        .err()
        .ok_or("a huge maxSize was accepted")?;
    ensure!(err.kind() == ErrorKind::InvalidArgument, "{err}");
    ensure_eq!(a.get_list("l").await?, Vec::<Value>::new());
    ensure_eq!(a.queue_depth("q").await?, 0);
    // The largest accepted bound works.
    a.append_to_list("l", &json!(1), ListOptions::max_length(MAX_BOUND))
        .await?;
    ensure_eq!(a.enqueue("q", &e, MAX_BOUND).await?, 1);
    Ok(())
}

/// Queue entry times beyond ±(2^53 - 1) cannot come from a JavaScript
/// caller; they are refused as invalid arguments and nothing is stored.
pub async fn out_of_range_queue_times_are_refused<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    for (enqueued_at, expires_at) in [
        (now, i64::MAX),
        (i64::MIN, now + 1_000),
        (now, MAX_EXPIRY_MS + 1),
    ] {
        let e = QueueEntry {
            enqueued_at,
            expires_at,
            message: json!(1),
        };
        let err = a
            .enqueue("q", &e, 0)
            .await
            .err()
            .ok_or("an out-of-range time was accepted")?;
        ensure!(err.kind() == ErrorKind::InvalidArgument, "{err}");
    }
    ensure_eq!(a.queue_depth("q").await?, 0);
    let e = QueueEntry {
        enqueued_at: -MAX_EXPIRY_MS,
        expires_at: MAX_EXPIRY_MS,
        message: json!(1),
    };
    ensure_eq!(a.enqueue("q", &e, 0).await?, 1);
    ensure_eq!(a.dequeue("q").await?, Some(e));
    Ok(())
}

/// 2.8: a cache value that is not JSON reads back as its raw text.
pub async fn corrupt_cache_value_reads_as_raw_text<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    h.write_raw(&a, RawStore::Cache, "c", "{not json").await?;
    ensure_eq!(a.get("c").await?, Some(json!("{not json")));
    ensure!(
        !a.set_if_not_exists("c", &json!(1), None).await?,
        "corrupt row counted absent"
    );
    a.set("c", &json!({"ok": true}), None).await?;
    ensure_eq!(a.get("c").await?, Some(json!({"ok": true})));
    Ok(())
}

/// 2.8: an undecodable list element reads as its raw text; the rest of the
/// list is unaffected.
pub async fn corrupt_list_element_reads_as_raw_text<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.append_to_list("l", &json!({"a": 1}), ListOptions::default())
        .await?;
    h.write_raw(&a, RawStore::List, "l", "[broken").await?;
    a.append_to_list("l", &json!("c"), ListOptions::default())
        .await?;
    ensure_eq!(
        a.get_list("l").await?,
        vec![json!({"a": 1}), json!("[broken"), json!("c")]
    );
    Ok(())
}

/// 2.8: dequeue of an undecodable entry removes it and fails once with
/// `Decode` naming the key; the next dequeue proceeds.
pub async fn corrupt_queue_entry_fails_once_then_proceeds<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    h.write_raw(&a, RawStore::Queue, "web:u:c", "{\"enqueuedAt\":")
        .await?;
    let good = QueueEntry {
        enqueued_at: now,
        expires_at: now + 60_000,
        message: json!({"id": "m"}),
    };
    a.enqueue("web:u:c", &good, 0).await?;
    let err = a
        .dequeue("web:u:c")
        .await
        .err()
        .ok_or("the corrupt entry decoded")?;
    ensure!(err.kind() == ErrorKind::Decode, "{err}");
    ensure!(
        err.to_string().contains("web:u:c"),
        "the error does not name the key: {err}"
    );
    ensure_eq!(a.dequeue("web:u:c").await?, Some(good));
    ensure_eq!(a.dequeue("web:u:c").await?, None);
    Ok(())
}

/// 5.4: the sweep deletes only dead rows, changes nothing visible, and
/// reports the next expiry of what remains.
pub async fn purge_removes_only_what_is_dead<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    a.set("dead", &json!(1), Some(10)).await?;
    a.set("live", &json!(2), Some(1_000)).await?;
    a.set("forever", &json!(3), None).await?;
    a.append_to_list(
        "dead-list",
        &json!(1),
        ListOptions::default().with_ttl_ms(10),
    )
    .await?;
    a.append_to_list(
        "live-list",
        &json!(1),
        ListOptions::default().with_ttl_ms(500),
    )
    .await?;
    let e = |ttl| QueueEntry {
        enqueued_at: now,
        expires_at: now + ttl,
        message: json!(ttl),
    };
    a.enqueue("q", &e(10), 0).await?;
    a.enqueue("q", &e(300), 0).await?;
    a.acquire_lock("abandoned", 10)
        .await?
        .ok_or("not acquired")?;
    h.advance(&a, 10).await;

    let purge = h.purge(&a).await?;
    ensure!(purge.deleted >= 5, "only {} rows deleted", purge.deleted);
    ensure!(!purge.more_due, "rows still due after an unbounded purge");
    ensure_eq!(purge.next_expiry, Some(now + 300));
    ensure_eq!(a.get("live").await?, Some(json!(2)));
    ensure_eq!(a.get("forever").await?, Some(json!(3)));
    ensure_eq!(a.get("dead").await?, None);
    ensure_eq!(a.get_list("live-list").await?, vec![json!(1)]);
    ensure_eq!(a.get_list("dead-list").await?, Vec::<Value>::new());
    ensure_eq!(a.queue_depth("q").await?, 1);
    ensure!(
        a.acquire_lock("abandoned", 10).await?.is_some(),
        "lease survived"
    );

    h.advance(&a, 1_000).await;
    let purge = h.purge(&a).await?;
    ensure_eq!(purge.next_expiry, None);
    ensure_eq!(a.get("forever").await?, Some(json!(3)));
    Ok(())
}
