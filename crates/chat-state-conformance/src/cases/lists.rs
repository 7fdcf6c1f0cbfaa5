//! Lists: order, trimming, and one expiry for the whole list.

use chat_state::{ListOptions, StateAdapter};
use serde_json::{json, Value};

use super::{ensure_eq, ready};
use crate::{Harness, TestResult};

fn strings(items: &[&str]) -> Vec<Value> {
    items.iter().map(|s| json!(s)).collect()
}

/// 2.6: values come back oldest first; a missing list is empty.
pub async fn lists_keep_append_order<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    ensure_eq!(a.get_list("msg-history:t").await?, Vec::<Value>::new());
    for v in ["a", "b", "c"] {
        a.append_to_list("msg-history:t", &json!(v), ListOptions::default())
            .await?;
    }
    a.append_to_list("msg-history:t", &json!({"id": 4}), ListOptions::default())
        .await?;
    let mut expected = strings(&["a", "b", "c"]);
    expected.push(json!({"id": 4}));
    ensure_eq!(a.get_list("msg-history:t").await?, expected);
    Ok(())
}

/// 2.6 step 3: `maxLength` keeps the newest values, the new one always;
/// `maxLength` 1 leaves only the new value.
pub async fn max_length_keeps_the_newest<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    for i in 0..10 {
        a.append_to_list("l", &json!(i), ListOptions::max_length(3))
            .await?;
    }
    ensure_eq!(a.get_list("l").await?, vec![json!(7), json!(8), json!(9)]);
    // A larger bound later does not bring anything back, and lets it grow.
    a.append_to_list("l", &json!(10), ListOptions::max_length(5))
        .await?;
    ensure_eq!(
        a.get_list("l").await?,
        vec![json!(7), json!(8), json!(9), json!(10)]
    );
    a.append_to_list("l", &json!("tombstone"), ListOptions::max_length(1))
        .await?;
    ensure_eq!(a.get_list("l").await?, vec![json!("tombstone")]);
    a.append_to_list("l", &json!("after"), ListOptions::max_length(2))
        .await?;
    ensure_eq!(a.get_list("l").await?, strings(&["tombstone", "after"]));
    Ok(())
}

/// G7: zero and negative `maxLength` mean unbounded.
pub async fn non_positive_max_length_is_unbounded<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    for (i, max) in [0, -1, -100, 0].into_iter().enumerate() {
        a.append_to_list("l", &json!(i), ListOptions::max_length(max))
            .await?;
    }
    ensure_eq!(a.get_list("l").await?.len(), 4);
    Ok(())
}

/// 2.6 step 4: a positive TTL sets the whole list's expiry from now, which
/// may shorten it; the list is dead exactly at its expiry.
pub async fn list_ttl_covers_the_whole_list<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let opts = |ttl| ListOptions::max_length(0).with_ttl_ms(ttl);
    a.append_to_list("l", &json!("a"), opts(1_000)).await?;
    h.advance(&a, 900).await;
    a.append_to_list("l", &json!("b"), opts(1_000)).await?;
    // "a" lives as long as the list: 1,900 ms after the first append.
    h.advance(&a, 999).await;
    ensure_eq!(a.get_list("l").await?, strings(&["a", "b"]));
    // Shorten to 10 ms from now.
    a.append_to_list("l", &json!("c"), opts(10)).await?;
    h.advance(&a, 9).await;
    ensure_eq!(a.get_list("l").await?, strings(&["a", "b", "c"]));
    h.advance(&a, 1).await;
    ensure_eq!(a.get_list("l").await?, Vec::<Value>::new());
    Ok(())
}

/// 2.6 and 2.9: an append without TTL keeps the list's expiry for every
/// value, old and new; nothing expires partially.
pub async fn append_without_ttl_keeps_the_list_expiry<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.append_to_list("l", &json!("a"), ListOptions::default().with_ttl_ms(100))
        .await?;
    a.append_to_list("l", &json!("b"), ListOptions::default())
        .await?;
    a.append_to_list("l", &json!("c"), ListOptions::default().with_ttl_ms(0))
        .await?;
    h.advance(&a, 99).await;
    ensure_eq!(a.get_list("l").await?, strings(&["a", "b", "c"]));
    h.advance(&a, 101).await;
    ensure_eq!(a.get_list("l").await?, Vec::<Value>::new());
    // A list created without TTL has none.
    a.append_to_list("p", &json!("x"), ListOptions::default())
        .await?;
    h.advance(&a, 365 * 86_400_000).await;
    ensure_eq!(a.get_list("p").await?, strings(&["x"]));
    Ok(())
}

/// 2.6 step 1: an append to an expired list starts a fresh list; the old
/// values never come back, with or without a sweep in between.
pub async fn an_expired_list_starts_fresh<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let ttl = |t| ListOptions::default().with_ttl_ms(t);
    a.append_to_list("l", &json!("old-1"), ttl(100)).await?;
    a.append_to_list("l", &json!("old-2"), ttl(100)).await?;
    h.advance(&a, 400).await;
    a.append_to_list("l", &json!("new"), ttl(60_000)).await?;
    ensure_eq!(a.get_list("l").await?, strings(&["new"]));
    // Without TTL, the fresh list has no expiry.
    a.append_to_list("m", &json!("old"), ttl(100)).await?;
    h.advance(&a, 100).await;
    a.append_to_list("m", &json!("new"), ListOptions::default())
        .await?;
    h.advance(&a, 365 * 86_400_000).await;
    ensure_eq!(a.get_list("m").await?, strings(&["new"]));
    // A maxLength applies to the fresh list only.
    a.append_to_list("n", &json!(1), ttl(10)).await?;
    h.advance(&a, 10).await;
    h.purge(&a).await?;
    a.append_to_list("n", &json!(2), ListOptions::max_length(2))
        .await?;
    a.append_to_list("n", &json!(3), ListOptions::max_length(2))
        .await?;
    ensure_eq!(a.get_list("n").await?, vec![json!(2), json!(3)]);
    Ok(())
}

/// G6: a negative TTL ends the list now, the new value included; the next
/// append starts fresh.
pub async fn append_with_negative_ttl_ends_the_list<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.append_to_list("l", &json!("a"), ListOptions::default())
        .await?;
    a.append_to_list("l", &json!("b"), ListOptions::default().with_ttl_ms(-1))
        .await?;
    ensure_eq!(a.get_list("l").await?, Vec::<Value>::new());
    a.append_to_list("l", &json!("c"), ListOptions::default())
        .await?;
    ensure_eq!(a.get_list("l").await?, strings(&["c"]));
    Ok(())
}
