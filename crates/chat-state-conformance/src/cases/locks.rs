//! Locks: leases, tokens, extend and force-release.

use std::collections::HashSet;

use chat_state::limits::MAX_EXPIRY_MS;
use chat_state::{Lock, StateAdapter};

use super::{ensure, ensure_eq, ready};
use crate::{Harness, TestResult};

/// 2.4: a successful acquire returns the key as passed, a token and
/// `now + ttl`.
pub async fn acquire_returns_the_key_token_and_expiry<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let now = h.now(&a).await;
    let lock = a
        .acquire_lock("Slack:C1:T1 ", 30_000)
        .await?
        .ok_or("not acquired")?;
    ensure_eq!(lock.thread_id, "Slack:C1:T1 ");
    ensure_eq!(lock.expires_at, now + 30_000);
    ensure!(
        !lock.token.is_empty() && lock.token.len() <= 64 && lock.token.is_ascii(),
        "token {:?} is not 1 to 64 ASCII characters",
        lock.token
    );
    Ok(())
}

/// 2.4: while a live lease exists, acquire returns `None` and the holder's
/// lease is unchanged.
pub async fn acquire_while_held_returns_none_and_changes_nothing<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let held = a.acquire_lock("k", 1_000).await?.ok_or("not acquired")?;
    h.advance(&a, 500).await;
    ensure!(
        a.acquire_lock("k", 60_000).await?.is_none(),
        "second acquire won"
    );
    // The holder's expiry did not move: the lease still ends at 1,000 ms.
    h.advance(&a, 500).await;
    let next = a.acquire_lock("k", 1_000).await?;
    ensure!(next.is_some(), "the failed acquire extended the lease");
    ensure!(
        !a.extend_lock(&held, 1_000).await?,
        "the old holder still owns the key"
    );
    Ok(())
}

/// G5: a lease is live while `expiresAt > now` and over at `expiresAt`;
/// the next acquire gets a new token.
pub async fn lease_ends_exactly_at_expiry<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let first = a.acquire_lock("k", 100).await?.ok_or("not acquired")?;
    h.advance(&a, 99).await;
    ensure!(
        a.acquire_lock("k", 100).await?.is_none(),
        "free 1 ms before expiry"
    );
    h.advance(&a, 1).await;
    let second = a
        .acquire_lock("k", 100)
        .await?
        .ok_or("still held at expiry")?;
    ensure!(
        second.token != first.token,
        "an expired lease's token was reused"
    );
    a.release_lock(&first).await?;
    ensure!(
        a.acquire_lock("k", 100).await?.is_none(),
        "the stale token released the new lease"
    );
    Ok(())
}

/// 2.4 and 2.9: a TTL of zero or less returns a lock that is already over.
pub async fn non_positive_ttl_gives_a_lease_that_is_already_over<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    for ttl in [0, -1, -30_000] {
        let now = h.now(&a).await;
        let lock = a.acquire_lock("k", ttl).await?.ok_or("no lock object")?;
        ensure!(
            lock.expires_at <= now,
            "ttl {ttl}: expiresAt {} > now {now}",
            lock.expires_at
        );
        ensure!(
            !a.extend_lock(&lock, 1_000).await?,
            "ttl {ttl}: a dead lease extended"
        );
        let live = a.acquire_lock("k", 1_000).await?.ok_or("key not free")?;
        a.release_lock(&live).await?;
    }
    Ok(())
}

/// 2.4: tokens are unique per acquire and carry no visible structure.
pub async fn tokens_are_unique_and_unguessable<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let mut seen = HashSet::new();
    let mut chars = HashSet::new();
    for _ in 0..500 {
        let lock = a.acquire_lock("k", 1_000).await?.ok_or("not acquired")?;
        chars.extend(lock.token.chars());
        // 122 random bits need at least 21 characters of base64 or 31 hex.
        ensure!(lock.token.len() >= 21, "token {:?} too short", lock.token);
        ensure!(
            seen.insert(lock.token.clone()),
            "token {:?} repeated",
            lock.token
        );
        a.release_lock(&lock).await?;
    }
    ensure!(
        chars.len() >= 16,
        "tokens use only {} distinct characters",
        chars.len()
    );
    Ok(())
}

/// 2.4: release deletes only under the matching token, never fails, and
/// may be repeated.
pub async fn release_needs_the_matching_token<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let missing = Lock {
        thread_id: "k".into(),
        token: "nobody".into(),
        expires_at: 0,
    };
    a.release_lock(&missing).await?;
    let lock = a.acquire_lock("k", 10_000).await?.ok_or("not acquired")?;
    let forged = Lock {
        token: "forged".into(),
        ..lock.clone()
    };
    a.release_lock(&forged).await?;
    ensure!(
        a.acquire_lock("k", 10_000).await?.is_none(),
        "a wrong token released"
    );
    // The stored expiry is ignored by release: only the token matters.
    let stale_expiry = Lock {
        expires_at: 0,
        ..lock.clone()
    };
    a.release_lock(&stale_expiry).await?;
    a.release_lock(&lock).await?;
    let next = a
        .acquire_lock("k", 10_000)
        .await?
        .ok_or("release did not free")?;
    ensure!(next.token != lock.token, "token reused");
    Ok(())
}

/// 2.4: extend sets the expiry to `now + ttl` (which may shorten it) on a
/// live, matching lease.
pub async fn extend_resets_a_live_lease_from_now<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let lock = a.acquire_lock("k", 1_000).await?.ok_or("not acquired")?;
    h.advance(&a, 900).await;
    ensure!(
        a.extend_lock(&lock, 1_000).await?,
        "extend of a live lease failed"
    );
    // New expiry: 900 + 1,000 = 1,900 ms after the acquire.
    h.advance(&a, 999).await;
    ensure!(
        a.acquire_lock("k", 10).await?.is_none(),
        "extension ended early"
    );
    // Shorten: 100 ms from now.
    ensure!(a.extend_lock(&lock, 100).await?, "shortening extend failed");
    h.advance(&a, 100).await;
    ensure!(
        a.acquire_lock("k", 10).await?.is_some(),
        "shortened lease still held"
    );
    Ok(())
}

/// 2.4: an expired lease, also exactly at its expiry, is never revived.
pub async fn extend_never_revives_an_expired_lease<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let lock = a.acquire_lock("k", 100).await?.ok_or("not acquired")?;
    h.advance(&a, 100).await;
    ensure!(
        !a.extend_lock(&lock, 10_000).await?,
        "extended at expiresAt == now"
    );
    ensure!(
        a.acquire_lock("k", 10).await?.is_some(),
        "the refused extend revived it"
    );
    let other = a.acquire_lock("j", 100).await?.ok_or("not acquired")?;
    h.advance(&a, 5_000).await;
    ensure!(
        !a.extend_lock(&other, 10_000).await?,
        "extended long after expiry"
    );
    Ok(())
}

/// 2.4: extend with another token or on a missing lock returns `false` and
/// changes nothing.
pub async fn extend_with_another_token_or_no_lock_is_false<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let ghost = Lock {
        thread_id: "k".into(),
        token: "ghost".into(),
        expires_at: i64::MAX,
    };
    ensure!(
        !a.extend_lock(&ghost, 1_000).await?,
        "extended a missing lock"
    );
    let lock = a.acquire_lock("k", 100).await?.ok_or("not acquired")?;
    ensure!(
        !a.extend_lock(&ghost, 10_000).await?,
        "extended with a foreign token"
    );
    h.advance(&a, 100).await;
    ensure!(
        a.acquire_lock("k", 10).await?.is_some(),
        "the foreign extend took effect"
    );
    ensure!(
        !a.extend_lock(&lock, 10).await?,
        "old token extended the new lease"
    );
    Ok(())
}

/// 2.4: extend with a TTL of zero or less on a live, matching lease returns
/// `true` and frees the key.
pub async fn extend_with_non_positive_ttl_frees_the_lock<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    for ttl in [0, -5] {
        let lock = a.acquire_lock("k", 10_000).await?.ok_or("not acquired")?;
        ensure!(
            a.extend_lock(&lock, ttl).await?,
            "extend({ttl}) of a live lease was false"
        );
        ensure!(
            a.acquire_lock("k", 10).await?.is_some(),
            "extend({ttl}) did not free"
        );
        h.advance(&a, 10).await;
    }
    Ok(())
}

/// 2.4: force-release ends any lease; the old holder can then neither
/// release the new one nor extend.
pub async fn force_release_ignores_the_token<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    a.force_release_lock("k").await?;
    let old = a.acquire_lock("k", 30_000).await?.ok_or("not acquired")?;
    a.force_release_lock("k").await?;
    let new = a
        .acquire_lock("k", 30_000)
        .await?
        .ok_or("force-release did not free")?;
    a.release_lock(&old).await?;
    ensure!(
        a.acquire_lock("k", 10).await?.is_none(),
        "stale release freed the new lease"
    );
    ensure!(!a.extend_lock(&old, 30_000).await?, "stale token extended");
    ensure!(
        a.extend_lock(&new, 30_000).await?,
        "the new holder lost its lease"
    );
    Ok(())
}

/// G6: an expiry that would overflow saturates to the far future (or the
/// far past), within the integers JavaScript holds exactly.
pub async fn huge_ttl_saturates_to_the_far_future<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    let lock = a.acquire_lock("k", i64::MAX).await?.ok_or("not acquired")?;
    ensure_eq!(lock.expires_at, MAX_EXPIRY_MS);
    h.advance(&a, 100 * 365 * 86_400_000).await;
    ensure!(
        a.acquire_lock("k", 10).await?.is_none(),
        "a saturated lease expired"
    );
    ensure!(
        a.extend_lock(&lock, i64::MAX).await?,
        "extend with a huge TTL failed"
    );
    Ok(())
}

/// G10: of 64 concurrent acquires of one free key exactly one wins, round
/// after round.
pub async fn concurrent_acquirers_have_exactly_one_winner<H: Harness>(h: &H) -> TestResult {
    let a = ready(h).await?;
    for round in 0..10 {
        let key = format!("race-{round}");
        let results =
            futures::future::join_all((0..64).map(|_| a.acquire_lock(&key, 30_000))).await;
        let mut winners = Vec::new();
        for r in results {
            if let Some(lock) = r? {
                winners.push(lock);
            }
        }
        ensure_eq!(winners.len(), 1);
        a.release_lock(&winners[0]).await?;
    }
    Ok(())
}
