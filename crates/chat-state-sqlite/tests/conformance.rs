//! The whole conformance suite against the native SQLite store.

mod common;

chat_state_conformance::conformance_tests!(common::Native::new());
