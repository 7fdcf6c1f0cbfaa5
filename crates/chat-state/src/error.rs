use std::fmt;

/// The result type of every fallible operation in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause of a storage failure, kept as the platform reported it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a state operation.
///
/// Each variant maps to one stable [`ErrorKind`], which is what crosses the
/// wire to JavaScript callers as `code`. The display text says what happened
/// and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The adapter is not connected: `connect()` has not completed, or
    /// `disconnect()` was called. Nothing was read or written.
    #[error("{backend} is not connected. Call connect() first.")]
    NotConnected {
        /// Which adapter refused the call.
        backend: &'static str,
    },

    /// An argument is outside what the contract accepts. Nothing was written.
    #[error("invalid argument to {method}: {reason}")]
    InvalidArgument {
        /// The contract method that refused the call.
        method: &'static str,
        /// Which argument was refused and why, including the accepted range.
        reason: String,
    },

    /// A key or value is over the size limit. Nothing was written.
    #[error(
        "{method}: {} is {size} bytes, over the limit of {limit} bytes; {}",
        if *what == "key" { format!("the key {key}") } else { format!("the {what} for key {key}") },
        if *what == "key" { "use a shorter key, e.g. a hash of it" } else { "store large payloads elsewhere and keep a reference here" }
    )]
    ValueTooLarge {
        /// The contract method that refused the write.
        method: &'static str,
        /// `"key"` or `"value"`.
        what: &'static str,
        /// The key, shortened to its first 64 characters for display.
        key: String,
        /// The encoded size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// A stored value could not be decoded. Only a foreign writer or
    /// corruption produces such a row; for `dequeue` the entry has been
    /// removed, so the next call proceeds.
    #[error("{method}: the stored value for key {key} is not valid JSON of the expected shape")]
    Decode {
        /// The contract method that read the value.
        method: &'static str,
        /// The key, shortened to its first 64 characters for display.
        key: String,
        /// What the decoder reported.
        #[source]
        source: serde_json::Error,
    },

    /// The storage layer failed: SQLite, the file system, or the platform
    /// that hosts the engine. `retryable` and `overloaded` carry the
    /// platform's advice where it gives any.
    #[error("storage error during {operation}: {source}")]
    Storage {
        /// What was being done when the failure happened.
        operation: &'static str,
        /// The platform's error, with its own cause chain.
        #[source]
        source: BoxError,
        /// The platform marked the failure as transient.
        retryable: bool,
        /// The platform reported overload; retrying makes it worse.
        overloaded: bool,
    },

    /// An error reported by the remote object that ran the call, with the
    /// kind and message it reported.
    #[error("{message}")]
    Remote {
        /// The kind of error the remote side reported.
        kind: ErrorKind,
        /// The remote side's message.
        message: String,
    },

    /// The two sides of a connection speak different protocol versions, or
    /// the reply could not be understood. Upgrade the older side.
    #[error("protocol error: {message}")]
    Protocol {
        /// What did not match.
        message: String,
    },
}

/// The kind of an [`Error`], stable across releases and shared with the
/// JavaScript client as a string code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::NotConnected`].
    NotConnected,
    /// See [`Error::InvalidArgument`].
    InvalidArgument,
    /// See [`Error::ValueTooLarge`].
    ValueTooLarge,
    /// See [`Error::Decode`].
    Decode,
    /// See [`Error::Storage`].
    Storage,
    /// See [`Error::Protocol`].
    Protocol,
}

impl ErrorKind {
    /// The wire code of this kind, e.g. `"not_connected"`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NotConnected => "not_connected",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::ValueTooLarge => "value_too_large",
            ErrorKind::Decode => "decode",
            ErrorKind::Storage => "storage",
            ErrorKind::Protocol => "protocol",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotConnected { .. } => ErrorKind::NotConnected,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::ValueTooLarge { .. } => ErrorKind::ValueTooLarge,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::Storage { .. } => ErrorKind::Storage,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::Remote { kind, .. } => *kind,
        }
    }

    /// Whether the platform marked this failure as transient. Only storage
    /// errors can be retryable, and only calls that are safe to repeat
    /// should be retried.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Storage {
                retryable: true,
                overloaded: false,
                ..
            }
        )
    }

    /// Whether the platform reported overload. Such calls must not be retried.
    pub fn is_overloaded(&self) -> bool {
        matches!(
            self,
            Error::Storage {
                overloaded: true,
                ..
            }
        )
    }

    /// A storage error that is neither retryable nor overload.
    #[cold]
    pub fn storage(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Storage {
            operation,
            source: source.into(),
            retryable: false,
            overloaded: false,
        }
    }

    #[cold]
    pub(crate) fn invalid(method: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            method,
            reason: reason.into(),
        }
    }
}

/// Shortens a key for error messages so that a 10 KB key does not flood logs.
pub(crate) fn key_for_display(key: &str) -> String {
    const SHOWN: usize = 64;
    match key.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &key[..cut]),
        None => format!("{key:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit_and_the_remedy() {
        let err = Error::NotConnected {
            backend: "SqliteState",
        };
        assert!(err.to_string().contains("not connected"));
        assert_eq!(err.kind().code(), "not_connected");

        let err = Error::ValueTooLarge {
            method: "set",
            what: "value",
            key: key_for_display("k"),
            size: 2_000_000,
            limit: 1_990_000,
        };
        let text = err.to_string();
        assert!(text.contains("1990000") && text.contains("2000000") && text.contains("set"));
    }

    #[test]
    fn long_keys_are_shortened_for_display() {
        let key = "é".repeat(10_000);
        let shown = key_for_display(&key);
        assert!(shown.chars().count() < 70, "{shown}");
        assert_eq!(key_for_display("a:b"), "\"a:b\"");
    }

    #[test]
    fn overload_is_never_retryable() {
        let err = Error::Storage {
            operation: "acquireLock",
            source: "busy".into(),
            retryable: true,
            overloaded: true,
        };
        assert!(!err.is_retryable());
        assert!(err.is_overloaded());
    }
}
