//! JSON encoding of values, and the lenient decoding the contract asks for.

use serde_json::Value;
use tracing::warn;

use crate::error::{key_for_display, Error, Result};
use crate::types::QueueEntry;

/// The JSON text stored for `value`.
pub fn encode(value: &Value) -> String {
    // Serialising a `Value` cannot fail: its map keys are always strings.
    value.to_string()
}

/// Decodes a stored cache value or list element. Text that is not JSON (only
/// a foreign writer produces it) comes back as a JSON string holding the raw
/// text, with a warning, so that one bad row never poisons a whole list.
pub fn decode_lenient(method: &'static str, key: &str, text: String) -> Value {
    match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(error) => {
            warn!(method, key = %key_for_display(key), %error, "stored value is not JSON; returning its raw text");
            Value::String(text)
        }
    }
}

/// Decodes a stored queue entry, failing with [`Error::Decode`] naming the key.
pub fn decode_entry(key: &str, text: &str) -> Result<QueueEntry> {
    serde_json::from_str(text).map_err(|source| Error::Decode {
        method: "dequeue",
        key: key_for_display(key),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invalid_json_reads_back_as_its_raw_text() {
        assert_eq!(
            decode_lenient("get", "k", "{\"a\":1}".into()),
            json!({"a": 1})
        );
        assert_eq!(
            decode_lenient("get", "k", "not json".into()),
            json!("not json")
        );
    }

    #[test]
    fn a_corrupt_entry_is_a_decode_error_naming_the_key() {
        let err = decode_entry("thread-1", "{").expect_err("must fail");
        assert_eq!(err.kind(), crate::ErrorKind::Decode);
        assert!(err.to_string().contains("thread-1"));
    }
}
