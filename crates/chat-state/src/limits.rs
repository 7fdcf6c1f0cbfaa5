//! Size limits, and the normalisation of loosely typed arguments.
//!
//! The limits keep every row under the 2 MB row limit of Durable Object
//! SQLite with room for the other columns. Both homes of the engine apply
//! them, so that data one accepts the other accepts too.
//!
//! JavaScript callers send TTLs and bounds as numbers, which may be `NaN`,
//! infinite or fractional. [`ttl_from_f64`] and [`bound_from_f64`] turn them
//! into the integers the engine works with, following the contract's rules.

use crate::error::{key_for_display, Error, Result};

/// Longest key accepted, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 8_192;

/// Longest encoded value accepted (one cache value, one list element or one
/// queue entry), in bytes of its JSON text.
pub const MAX_VALUE_BYTES: usize = 1_990_000;

/// The far future that expiries saturate to: the largest integer a
/// JavaScript number holds exactly (2^53 - 1), so that an expiry read back
/// by a TypeScript caller is the one stored.
pub const MAX_EXPIRY_MS: i64 = 9_007_199_254_740_991;

/// Largest accepted list or queue bound. Larger bounds cannot be stated
/// exactly by a JavaScript caller and are almost certainly a mistake.
pub const MAX_BOUND: i64 = MAX_EXPIRY_MS;

/// `now + ttl`, saturated to ±[`MAX_EXPIRY_MS`] so that every stored
/// expiry is a number JavaScript holds exactly.
pub fn expiry_after(now: i64, ttl_ms: i64) -> i64 {
    now.saturating_add(ttl_ms)
        .clamp(-MAX_EXPIRY_MS, MAX_EXPIRY_MS)
}

/// Refuses a queue entry time outside ±[`MAX_EXPIRY_MS`], which a
/// JavaScript caller could not state exactly.
pub fn check_timestamp(method: &'static str, name: &str, ms: i64) -> Result<()> {
    if !(-MAX_EXPIRY_MS..=MAX_EXPIRY_MS).contains(&ms) {
        return Err(Error::invalid(
            method,
            format!(
                "{name} is {ms}, outside the range of exact JavaScript integers (±{MAX_EXPIRY_MS})"
            ),
        ));
    }
    Ok(())
}

/// Refuses a key longer than [`MAX_KEY_BYTES`].
pub fn check_key(method: &'static str, key: &str) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::ValueTooLarge {
            method,
            what: "key",
            key: key_for_display(key),
            size: key.len(),
            limit: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

/// Refuses an encoded value longer than [`MAX_VALUE_BYTES`].
pub fn check_value(method: &'static str, key: &str, encoded: &str) -> Result<()> {
    if encoded.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge {
            method,
            what: "value",
            key: key_for_display(key),
            size: encoded.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// Refuses a list or queue bound above [`MAX_BOUND`]; zero and negative
/// bounds are accepted and mean unbounded.
pub fn check_bound(method: &'static str, name: &str, bound: i64) -> Result<()> {
    if bound > MAX_BOUND {
        return Err(Error::invalid(
            method,
            format!("{name} is {bound}, above the largest accepted bound {MAX_BOUND}"),
        ));
    }
    Ok(())
}

/// Normalises a TTL that arrived as a JavaScript number.
///
/// - absent and `NaN` mean "no TTL" (`None`);
/// - a fraction keeps its sign and has its magnitude rounded up to a whole
///   millisecond, so `0.2` lives 1 ms and `-0.2` is already dead;
/// - infinities and magnitudes beyond `i64` milliseconds are refused.
pub fn ttl_from_f64(method: &'static str, raw: Option<f64>) -> Result<Option<i64>> {
    let Some(x) = raw else { return Ok(None) };
    if x.is_nan() {
        return Ok(None);
    }
    // 2^63 is what i64::MAX becomes as a float, so it saturates; anything
    // larger in magnitude is refused.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let rounded = if x >= 0.0 { x.ceil() } else { x.floor() };
    if !(-LIMIT..=LIMIT).contains(&rounded) {
        return Err(Error::invalid(
            method,
            format!("ttlMs is {x}; it must be a finite number of milliseconds within ±2^63"),
        ));
    }
    // In range by the check above; `as` saturates 2^63 to i64::MAX.
    Ok(Some(rounded as i64))
}

/// Normalises a list or queue bound that arrived as a JavaScript number:
/// truncated toward zero; absent, `NaN` and infinities mean unbounded (`0`);
/// finite values above [`MAX_BOUND`] are refused.
pub fn bound_from_f64(method: &'static str, name: &str, raw: Option<f64>) -> Result<i64> {
    let Some(x) = raw else { return Ok(0) };
    if !x.is_finite() {
        return Ok(0);
    }
    let t = x.trunc();
    if t > MAX_BOUND as f64 {
        return Err(Error::invalid(
            method,
            format!("{name} is {x}, above the largest accepted bound {MAX_BOUND}"),
        ));
    }
    if t <= 0.0 {
        return Ok(0);
    }
    Ok(t as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn ttl_rounding_keeps_the_sign_and_rounds_the_magnitude_up() -> Result<()> {
        assert_eq!(ttl_from_f64("set", None)?, None);
        assert_eq!(ttl_from_f64("set", Some(f64::NAN))?, None);
        assert_eq!(ttl_from_f64("set", Some(0.0))?, Some(0));
        assert_eq!(ttl_from_f64("set", Some(0.2))?, Some(1));
        assert_eq!(ttl_from_f64("set", Some(-0.2))?, Some(-1));
        assert_eq!(ttl_from_f64("set", Some(1500.0))?, Some(1500));
        assert_eq!(
            ttl_from_f64("set", Some(-1e18))?,
            Some(-1_000_000_000_000_000_000)
        );
        Ok(())
    }

    #[test]
    fn infinite_and_oversized_ttls_are_refused_with_the_limit() {
        for bad in [f64::INFINITY, f64::NEG_INFINITY, 1e19, -1e19, 9.3e18] {
            // 9.3e18 is above 2^63.
            let err = ttl_from_f64("acquireLock", Some(bad)).expect_err("must refuse");
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.to_string().contains("2^63"), "{err}");
        }
    }

    #[test]
    fn bounds_truncate_and_treat_non_positive_as_unbounded() -> Result<()> {
        assert_eq!(bound_from_f64("enqueue", "maxSize", None)?, 0);
        assert_eq!(bound_from_f64("enqueue", "maxSize", Some(f64::NAN))?, 0);
        assert_eq!(
            bound_from_f64("enqueue", "maxSize", Some(f64::INFINITY))?,
            0
        );
        assert_eq!(bound_from_f64("enqueue", "maxSize", Some(-3.0))?, 0);
        assert_eq!(bound_from_f64("enqueue", "maxSize", Some(0.9))?, 0);
        assert_eq!(bound_from_f64("enqueue", "maxSize", Some(10.7))?, 10);
        let err = bound_from_f64("enqueue", "maxSize", Some(1e300)).expect_err("must refuse");
        assert!(err.to_string().contains("9007199254740991"), "{err}");
        Ok(())
    }

    #[test]
    fn expiry_saturates_to_the_largest_exact_javascript_integer() {
        assert_eq!(expiry_after(10, 5), 15);
        assert_eq!(expiry_after(10, i64::MAX), MAX_EXPIRY_MS);
        assert_eq!(expiry_after(10, i64::MIN), -MAX_EXPIRY_MS);
        assert_eq!(expiry_after(10, -5), 5);
    }

    #[test]
    fn key_and_value_limits_are_inclusive() {
        assert!(check_key("set", &"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(check_key("set", &"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(check_value("set", "k", &"v".repeat(MAX_VALUE_BYTES)).is_ok());
        let err = check_value("set", "k", &"v".repeat(MAX_VALUE_BYTES + 1));
        assert!(matches!(
            err,
            Err(Error::ValueTooLarge {
                limit: MAX_VALUE_BYTES,
                ..
            })
        ));
    }
}
