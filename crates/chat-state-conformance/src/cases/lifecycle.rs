//! Connect, disconnect, and subscriptions.

use chat_state::{ErrorKind, ListOptions, Lock, QueueEntry, StateAdapter};
use serde_json::json;

use super::{ensure, ensure_eq, ready};
use crate::{Harness, TestResult};

/// Calls all sixteen data methods and checks each fails as not connected.
async fn all_refuse<A: StateAdapter>(a: &A, when: &str) -> TestResult {
    let lock = Lock {
        thread_id: "t".into(),
        token: "x".into(),
        expires_at: 0,
    };
    let entry = QueueEntry {
        enqueued_at: 0,
        expires_at: i64::MAX / 2,
        message: json!({}),
    };
    let v = json!(1);
    let results = [
        ("subscribe", a.subscribe("t").await.err()),
        ("unsubscribe", a.unsubscribe("t").await.err()),
        ("isSubscribed", a.is_subscribed("t").await.err()),
        ("acquireLock", a.acquire_lock("t", 1000).await.err()),
        ("releaseLock", a.release_lock(&lock).await.err()),
        ("extendLock", a.extend_lock(&lock, 1000).await.err()),
        ("forceReleaseLock", a.force_release_lock("t").await.err()),
        ("get", a.get("k").await.err()),
        ("set", a.set("k", &v, None).await.err()),
        (
            "setIfNotExists",
            a.set_if_not_exists("k", &v, None).await.err(),
        ),
        ("delete", a.delete("k").await.err()),
        (
            "appendToList",
            a.append_to_list("k", &v, ListOptions::default())
                .await
                .err(),
        ),
        ("getList", a.get_list("k").await.err()),
        ("enqueue", a.enqueue("t", &entry, 10).await.err()),
        ("dequeue", a.dequeue("t").await.err()),
        ("queueDepth", a.queue_depth("t").await.err()),
    ];
    for (method, err) in results {
        let Some(err) = err else {
            return Err(format!("{method} succeeded {when}").into());
        };
        ensure!(
            err.kind() == ErrorKind::NotConnected && err.to_string().contains("not connected"),
            "{method} {when} failed with {err} instead of a not-connected error"
        );
    }
    Ok(())
}

/// G2: before `connect`, every data method fails as not connected.
pub async fn data_methods_fail_before_connect<H: Harness>(h: &H) -> TestResult {
    let a = h.fresh().await;
    all_refuse(&a, "before connect").await
}

/// G2: after `disconnect`, every data method fails as not connected, and
/// the refused writes changed nothing.
pub async fn data_methods_fail_after_disconnect<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.disconnect().await?;
    all_refuse(&a, "after disconnect").await?;
    a.connect().await?;
    ensure!(
        !a.is_subscribed("t").await?,
        "a refused subscribe was stored"
    );
    ensure_eq!(a.get("k").await?, None);
    ensure_eq!(a.get_list("k").await?.len(), 0);
    ensure_eq!(a.queue_depth("t").await?, 0);
    Ok(())
}

/// 2.2: a later `connect` sees everything written before `disconnect`.
pub async fn reconnect_keeps_every_store<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    a.subscribe("web:u:c").await?;
    let lock = a.acquire_lock("web:u:c", 30_000).await?.ok_or("no lock")?;
    a.set("thread-state:web:u:c", &json!({"count": 2}), None)
        .await?;
    a.append_to_list("msg-history:web:u:c", &json!("hi"), ListOptions::default())
        .await?;
    let entry = QueueEntry {
        enqueued_at: now,
        expires_at: now + 90_000,
        message: json!({"id": "m1"}),
    };
    a.enqueue("web:u:c", &entry, 10).await?;

    a.disconnect().await?;
    a.connect().await?;

    ensure!(a.is_subscribed("web:u:c").await?, "subscription lost");
    ensure!(
        a.acquire_lock("web:u:c", 30_000).await?.is_none(),
        "lock lost across reconnect"
    );
    ensure!(
        a.extend_lock(&lock, 30_000).await?,
        "lock token no longer valid"
    );
    ensure_eq!(
        a.get("thread-state:web:u:c").await?,
        Some(json!({"count": 2}))
    );
    ensure_eq!(a.get_list("msg-history:web:u:c").await?, vec![json!("hi")]);
    ensure_eq!(a.dequeue("web:u:c").await?, Some(entry));
    Ok(())
}

/// 2.2: repeated `connect` and `disconnect` calls are harmless.
pub async fn connect_and_disconnect_are_idempotent<H: Harness>(h: &H) -> TestResult {
    let a = h.fresh().await;
    a.disconnect().await?;
    a.connect().await?;
    a.connect().await?;
    a.set("k", &json!("v"), None).await?;
    a.disconnect().await?;
    a.disconnect().await?;
    a.connect().await?;
    ensure_eq!(a.get("k").await?, Some(json!("v")));
    Ok(())
}

/// 2.2: concurrent connects all succeed and leave one usable adapter.
pub async fn concurrent_connects_share_one_attempt<H: Harness>(h: &H) -> TestResult {
    let a = h.fresh().await;
    let results = futures::future::join_all((0..16).map(|_| a.connect())).await;
    for r in results {
        r?;
    }
    a.set("k", &json!(1), None).await?;
    ensure_eq!(a.get("k").await?, Some(json!(1)));
    Ok(())
}

/// 2.3: subscribe is idempotent, unsubscribe of an absent thread is a no-op.
pub async fn subscriptions_are_a_set<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    ensure!(
        !a.is_subscribed("slack:C1:T1").await?,
        "subscribed before subscribe"
    );
    a.unsubscribe("slack:C1:T1").await?;
    a.subscribe("slack:C1:T1").await?;
    a.subscribe("slack:C1:T1").await?;
    ensure!(a.is_subscribed("slack:C1:T1").await?, "not subscribed");
    ensure!(
        !a.is_subscribed("slack:C1:T2").await?,
        "a sibling thread is subscribed"
    );
    ensure!(
        !a.is_subscribed("slack:C1").await?,
        "the channel is subscribed"
    );
    a.unsubscribe("slack:C1:T1").await?;
    ensure!(
        !a.is_subscribed("slack:C1:T1").await?,
        "still subscribed after unsubscribe"
    );
    a.unsubscribe("slack:C1:T1").await?;
    Ok(())
}

/// 2.3: subscriptions survive any amount of time and a sweep.
pub async fn subscriptions_never_expire<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.subscribe("t").await?;
    h.advance(&a, 10 * 365 * 86_400_000).await;
    h.purge(&a).await?;
    ensure!(a.is_subscribed("t").await?, "subscription expired");
    Ok(())
}
