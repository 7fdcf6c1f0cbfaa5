//! The Chat SDK state engine on an embedded SQLite database.
//!
//! [`SqliteState`] implements [`chat_state::StateAdapter`] on a SQLite file
//! (WAL mode, busy timeout) or an in-memory database, with SQLite compiled
//! in. It runs the same [`chat_state::Engine`] as the Durable Object home,
//! so a test that passes here describes what a bot sees on Workers.
//!
//! ```
//! use chat_state::StateAdapter;
//! use chat_state_sqlite::SqliteState;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> chat_state::Result<()> {
//! let state = SqliteState::in_memory();
//! state.connect().await?;
//! let first = state.set_if_not_exists("dedupe:web:m1", &true.into(), Some(600_000)).await?;
//! let again = state.set_if_not_exists("dedupe:web:m1", &true.into(), Some(600_000)).await?;
//! assert!(first && !again);
//! # Ok(())
//! # }
//! ```
//!
//! # Map of the crate
//!
//! - [`SqliteState`] and its [`Builder`]: the store, shared between tasks by
//!   cloning; connection handling, the background sweep.
//! - [`StatementStats`]: how much work the store's statements did, for
//!   benchmarks and cost tests.
//! - [`Conn`]: the engine's view of any rusqlite connection, for running
//!   the engine directly.

mod conn;
mod state;

pub use conn::{Conn, StatementStats};
pub use state::{Builder, SqliteState};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
