//! The whole conformance suite through the client/object protocol: a
//! `WireClient` whose transport hands each request to a native store's
//! `serve`, exactly as a Durable Object would receive it.

use std::sync::Arc;

use chat_state::wire::{Route, Transport, WireClient};
use chat_state::{ManualClock, Purge, StateAdapter};
use chat_state_conformance::{Harness, RawStore, TestResult};
use chat_state_sqlite::SqliteState;

mod common;

struct Loopback {
    server: SqliteState,
}

impl Transport for Loopback {
    async fn send(&self, _route: Route<'_>, request: &str) -> chat_state::Result<String> {
        self.server.serve(request.to_owned()).await
    }

    async fn sleep(&self, delay: std::time::Duration) {
        tokio::time::sleep(delay).await;
    }
}

struct OverWire {
    native: common::Native,
}

impl Harness for OverWire {
    type Adapter = WireClient<Loopback>;

    async fn fresh(&self) -> Self::Adapter {
        let server = self.native.fresh().await;
        server.connect().await.expect("an in-memory store connects");
        WireClient::new(Loopback { server }, "loopback")
    }

    async fn now(&self, a: &Self::Adapter) -> i64 {
        self.native.now(&a.transport().server).await
    }

    async fn advance(&self, a: &Self::Adapter, ms: i64) {
        self.native.advance(&a.transport().server, ms).await;
    }

    async fn write_raw(
        &self,
        a: &Self::Adapter,
        store: RawStore,
        key: &str,
        text: &str,
    ) -> TestResult {
        self.native
            .write_raw(&a.transport().server, store, key, text)
            .await
    }

    async fn purge(&self, a: &Self::Adapter) -> chat_state::Result<Purge> {
        self.native.purge(&a.transport().server).await
    }
}

fn harness() -> OverWire {
    OverWire {
        native: common::Native::new(),
    }
}

chat_state_conformance::conformance_tests!(harness());

#[tokio::test]
async fn unknown_versions_and_operations_get_clear_errors() -> TestResult {
    let server = SqliteState::builder_in_memory()
        .clock(Arc::new(ManualClock::new(common::START_MS)))
        .build();
    server.connect().await?;
    let newer = server
        .serve(r#"{"v":99,"op":"get","args":{"key":"k"}}"#.to_owned())
        .await?;
    let reply: serde_json::Value = serde_json::from_str(&newer)?;
    assert_eq!(reply["err"]["code"], "unsupported_version");
    assert_eq!(reply["err"]["cur"], 1);
    let unknown = server
        .serve(r#"{"v":1,"op":"teleport","args":{}}"#.to_owned())
        .await?;
    let reply: serde_json::Value = serde_json::from_str(&unknown)?;
    assert_eq!(reply["err"]["code"], "unsupported_op");
    let bad = server
        .serve(r#"{"v":1,"op":"acquireLock","args":{"threadId":"t"}}"#.to_owned())
        .await?;
    let reply: serde_json::Value = serde_json::from_str(&bad)?;
    assert_eq!(reply["err"]["code"], "invalid_argument");
    assert!(reply["err"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("ttlMs"));
    let inf = server
        .serve(r#"{"v":1,"op":"set","args":{"key":"k","value":"1","ttlMs":1e300}}"#.to_owned())
        .await?;
    let reply: serde_json::Value = serde_json::from_str(&inf)?;
    assert_eq!(reply["err"]["code"], "invalid_argument");
    let fraction = server
        .serve(r#"{"v":1,"op":"set","args":{"key":"k","value":"1","ttlMs":0.4}}"#.to_owned())
        .await?;
    assert_eq!(fraction, r#"{"v":1,"ok":null}"#);
    Ok(())
}

#[tokio::test]
async fn a_failed_call_leaves_nothing_behind() -> TestResult {
    let server = SqliteState::in_memory();
    server.connect().await?;
    // A value over the limit in the middle of an otherwise valid call.
    let big = "x".repeat(chat_state::limits::MAX_VALUE_BYTES + 1);
    let request = serde_json::json!({"v": 1, "op": "appendToList",
        "args": {"key": "l", "value": big, "maxLength": 1}})
    .to_string();
    let reply: serde_json::Value = serde_json::from_str(&server.serve(request).await?)?;
    assert_eq!(reply["err"]["code"], "value_too_large");
    assert!(server.get_list("l").await?.is_empty());
    Ok(())
}
