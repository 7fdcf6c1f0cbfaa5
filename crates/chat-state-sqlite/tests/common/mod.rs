//! The native harness shared by the test files of this crate.

use std::sync::Arc;

use chat_state::{ManualClock, Purge};
use chat_state_conformance::{Harness, RawStore, TestResult};
use chat_state_sqlite::SqliteState;

/// A fixed start so that tests are reproducible: 2023-11-14T22:13:20Z.
pub(crate) const START_MS: i64 = 1_700_000_000_000;

/// In-memory stores sharing one manual clock per harness; every case builds
/// its own harness, so no two cases share a clock.
pub(crate) struct Native {
    pub(crate) clock: ManualClock,
}

impl Native {
    pub(crate) fn new() -> Self {
        Self {
            clock: ManualClock::new(START_MS),
        }
    }
}

impl Harness for Native {
    type Adapter = SqliteState;

    async fn fresh(&self) -> SqliteState {
        SqliteState::builder_in_memory()
            .clock(Arc::new(self.clock.clone()))
            .sweep_interval(None)
            .build()
    }

    async fn now(&self, adapter: &SqliteState) -> i64 {
        adapter.engine().now()
    }

    async fn advance(&self, _adapter: &SqliteState, ms: i64) {
        self.clock.advance(ms);
    }

    async fn write_raw(
        &self,
        adapter: &SqliteState,
        store: RawStore,
        key: &str,
        text: &str,
    ) -> TestResult {
        let (key, text) = (key.to_owned(), text.to_owned());
        let prefix = adapter.engine().prefix().to_owned();
        let now = adapter.engine().now();
        adapter
            .with_connection(move |c| match store {
                RawStore::Cache => c.execute(
                    "INSERT OR REPLACE INTO cs_kv (prefix, key, value, expires_at)
                     VALUES (?1, ?2, ?3, NULL)",
                    (&prefix, &key, &text),
                ),
                RawStore::List => {
                    let (seq, len): (i64, i64) = c
                        .query_row(
                            "SELECT next_seq, len FROM cs_lists WHERE prefix = ?1 AND key = ?2",
                            (&prefix, &key),
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .unwrap_or((0, 0));
                    c.execute(
                        "INSERT INTO cs_list_items (prefix, key, seq, value) VALUES (?1, ?2, ?3, ?4)",
                        (&prefix, &key, seq, &text),
                    )?;
                    c.execute(
                        "INSERT OR REPLACE INTO cs_lists (prefix, key, expires_at, next_seq, len)
                         VALUES (?1, ?2, NULL, ?3, ?4)",
                        (&prefix, &key, seq + 1, len + 1),
                    )
                }
                RawStore::Queue => c.execute(
                    "INSERT INTO cs_queue (prefix, key, seq, enqueued_at, expires_at, entry)
                     SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5
                     FROM cs_queue WHERE prefix = ?1 AND key = ?2",
                    (&prefix, &key, now, now + 60_000, &text),
                ),
            })
            .await?;
        Ok(())
    }

    async fn purge(&self, adapter: &SqliteState) -> chat_state::Result<Purge> {
        adapter.purge_expired().await
    }
}
