//! The conformance suite of the Chat SDK state contract.
//!
//! One suite, generic over the backend: every home of the engine (the native
//! SQLite store, the Durable Object reached through the Workers runtime, the
//! Rust client) runs the same cases through a [`Harness`] that gives it fresh
//! storage and a clock it can move.
//!
//! - [`cases`]: one async function per behaviour of the contract.
//! - [`model`]: a plain in-memory reference model of the contract and a
//!   driver that replays random operation sequences against a backend and
//!   compares every result.
//! - [`conformance_tests!`]: expands to one `#[tokio::test]` per case for a
//!   harness, so each case shows up by name in the test output.

use std::future::Future;

use chat_state::{Purge, StateAdapter};

pub mod cases;
pub mod model;

/// The outcome of one case: `Err` carries what went wrong.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Which store a raw write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawStore {
    /// A cache value.
    Cache,
    /// One element appended to a list.
    List,
    /// One queue entry, live for a minute.
    Queue,
}

/// What the suite needs from a backend beyond the contract itself.
pub trait Harness: Sync {
    /// The adapter under test.
    type Adapter: StateAdapter;

    /// A new adapter on empty storage, not yet connected, with its own clock
    /// that the suite moves with [`Harness::advance`].
    fn fresh(&self) -> impl Future<Output = Self::Adapter>;

    /// The adapter's current time in Unix milliseconds.
    fn now(&self, adapter: &Self::Adapter) -> impl Future<Output = i64>;

    /// Moves the adapter's clock forward by `ms`.
    fn advance(&self, adapter: &Self::Adapter, ms: i64) -> impl Future<Output = ()>;

    /// Writes `text` into `store` under `key` bypassing the adapter, as a
    /// foreign writer or corruption would. The text need not be JSON.
    fn write_raw(
        &self,
        adapter: &Self::Adapter,
        store: RawStore,
        key: &str,
        text: &str,
    ) -> impl Future<Output = TestResult>;

    /// Deletes expired rows now, as the backend's own cleanup would.
    fn purge(&self, adapter: &Self::Adapter) -> impl Future<Output = chat_state::Result<Purge>>;
}
