//! `ChatStateDO`: the Chat SDK state engine as a SQLite-backed Durable
//! Object, and [`CloudflareState`], the Rust client that reaches it.
//!
//! # Map of the crate
//!
//! - `object`: the Durable Object. It migrates its schema on the first
//!   request after each wake, runs every call of the protocol
//!   ([`chat_state::wire`]) synchronously (calls that write more than once
//!   inside `transactionSync`), and keeps one cleanup alarm.
//! - `alarm`: when to arm that alarm, and what the handler does.
//! - `sql`: [`chat_state::sql::SqlConn`] over the object's `ctx.storage.sql`,
//!   summing the cursors' rows read and written.
//! - `client`: [`CloudflareState`], the contract over a Durable Object
//!   namespace binding, with routing across shards and retries.
//!
//! JavaScript callers reach the object by RPC through a small JavaScript
//! class that extends `DurableObject` (the runtime refuses RPC to a plain
//! wasm class) and forwards to the `call`, `fetch` and `alarm` methods
//! exported here. `fetch` accepts the same protocol envelope as `call`, as a
//! `POST` body.
//!
//! Everything in this crate targets `wasm32-unknown-unknown`; on other
//! targets it compiles to nothing.

#![cfg(target_arch = "wasm32")]

mod alarm;
mod client;
mod clock;
mod object;
mod sql;
mod test_worker;

pub use client::{CloudflareState, CloudflareStateOptions};
pub use object::ChatStateDO;
