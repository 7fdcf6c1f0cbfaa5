//! The Chat SDK state contract in Rust, and one storage engine that implements
//! it on any SQLite.
//!
//! A Chat SDK bot keeps five kinds of state between webhooks: thread
//! subscriptions, token locks with a lease, a JSON key-value cache with
//! optional expiry, per-thread FIFO queues, and lists (message history). This
//! crate defines that contract and the engine that stores it; the crates around
//! it only give the engine a home.
//!
//! # Map of the crate
//!
//! - [`StateAdapter`] (module `adapter`): the eighteen operations of the
//!   contract as an async trait, implemented by every home of the engine.
//! - [`Lock`], [`QueueEntry`], [`ListOptions`] (module `types`): the values
//!   that cross the trait, serialised in camelCase to match the TypeScript
//!   shapes.
//! - [`Error`] (module `error`): the one error type, with a stable
//!   [`ErrorKind`] per variant.
//! - [`Clock`], [`SystemClock`], [`ManualClock`] (module `clock`): where time
//!   comes from, injectable so that expiry tests never sleep.
//! - [`sql`]: the small synchronous SQL interface the engine runs on. A host
//!   implements [`sql::SqlConn`] once for its SQLite (rusqlite natively, the
//!   Durable Object's `ctx.storage.sql` on Workers).
//! - [`Engine`] (module `engine`): every operation written once as SQL over
//!   [`sql::SqlConn`], the schema and its migrations, and the expiry sweep.
//!   One submodule per store: subscriptions, locks, cache, lists, queues.
//! - [`json`]: encoding of values and the lenient decoding of stored text.
//! - [`wire`]: the versioned JSON protocol between a client and a Durable
//!   Object, and the dispatcher that runs a request on the engine.
//! - [`routing`]: which Durable Object owns a call, for sharded clients.
//! - [`limits`]: the size limits and the normalisation of loosely typed
//!   arguments (TTLs and bounds arriving as JavaScript numbers).
//!
//! # Time
//!
//! All times are Unix milliseconds (`i64`). An item is live while its expiry is
//! strictly later than `now`; an operation reads the clock once and uses that
//! instant for every comparison it makes.

mod adapter;
mod clock;
mod engine;
mod error;
pub mod json;
pub mod limits;
pub mod routing;
pub mod sql;
mod types;
pub mod wire;

pub use adapter::StateAdapter;
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Applied, Engine, Purge, RawQueueEntry, DEFAULT_KEY_PREFIX, SCHEMA_VERSION};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use types::{ListOptions, Lock, QueueEntry};
