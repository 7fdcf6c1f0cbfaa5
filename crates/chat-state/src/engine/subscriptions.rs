//! Subscriptions: a set of thread ids with no expiry.

use super::{check_key, Engine};
use crate::error::Result;
use crate::sql::{Param, SqlConn};

const SUBSCRIBE: &str = "INSERT INTO cs_subscriptions (prefix, thread_id) VALUES (?1, ?2)
    ON CONFLICT DO NOTHING";
const UNSUBSCRIBE: &str = "DELETE FROM cs_subscriptions WHERE prefix = ?1 AND thread_id = ?2";
const IS_SUBSCRIBED: &str = "SELECT 1 FROM cs_subscriptions WHERE prefix = ?1 AND thread_id = ?2";

impl Engine {
    /// Adds `thread_id` to the subscriptions. Idempotent.
    pub fn subscribe(&self, conn: &mut dyn SqlConn, thread_id: &str) -> Result<()> {
        check_key("subscribe", thread_id)?;
        conn.execute(SUBSCRIBE, &[self.p(), Param::Text(thread_id)])
    }

    /// Removes `thread_id` from the subscriptions; a no-op if absent.
    pub fn unsubscribe(&self, conn: &mut dyn SqlConn, thread_id: &str) -> Result<()> {
        conn.execute(UNSUBSCRIBE, &[self.p(), Param::Text(thread_id)])
    }

    /// Whether `thread_id` is subscribed.
    pub fn is_subscribed(&self, conn: &mut dyn SqlConn, thread_id: &str) -> Result<bool> {
        Ok(!conn
            .query(IS_SUBSCRIBED, &[self.p(), Param::Text(thread_id)])?
            .is_empty())
    }
}
