//! The Durable Object.

// The `durable_object` macro generates wasm-bindgen glue without docs.
#![allow(missing_docs)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use chat_state::wire::{self, Cost, WireError};
use chat_state::{Engine, Error, Result};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{durable_object, Env, Method, Request, Response, SqlStorage, State};

use crate::alarm::Alarm;
use crate::clock::WorkerClock;
use crate::sql::DoSql;

#[wasm_bindgen]
extern "C" {
    /// `ctx.storage`, for the one method workers-rs does not bind.
    #[wasm_bindgen(extends = js_sys::Object)]
    type TxStorage;

    /// Runs the callback in a SQLite transaction, rolling back if it throws.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &TxStorage,
        f: &js_sys::Function,
    ) -> std::result::Result<JsValue, JsValue>;
}

/// Rows read and written since this instance woke, for the inspector.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) rows_read: u64,
    pub(crate) rows_written: u64,
}

/// The Chat SDK state of one shard: subscriptions, locks, cache, lists and
/// queues in the object's SQLite storage.
///
/// # Concurrency
///
/// A Durable Object handles one event at a time while it runs synchronous
/// code, and every call here runs all its SQL synchronously (inside one
/// `transactionSync` when it writes more than once), so calls are atomic
/// and linearisable: of many concurrent `acquireLock` or `setIfNotExists`
/// calls on a free key exactly one wins. Only the alarm bookkeeping after a
/// call awaits.
#[durable_object]
pub struct ChatStateDO {
    /// Shared with the promises of calls that finish asynchronously.
    shard: Rc<Shard>,
}

/// Everything the object holds; `ChatStateDO` is a handle on it.
pub(crate) struct Shard {
    state: State,
    /// `ctx.storage.sql` and `ctx.storage`, fetched once rather than per call.
    sql: SqlStorage,
    tx_storage: TxStorage,
    pub(crate) engine: Engine,
    pub(crate) clock: WorkerClock,
    /// The schema is checked once per wake; the result is kept here.
    migrated: Cell<bool>,
    pub(crate) alarm: Alarm,
    pub(crate) totals: Cell<Totals>,
    /// Test-only operations (`test.*`), on when the Worker's environment
    /// sets `CHAT_STATE_TEST_HOOKS` to `"1"`.
    test_hooks: bool,
}

fn env_flag(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

impl worker::DurableObject for ChatStateDO {
    fn new(state: State, env: Env) -> Self {
        let clock = WorkerClock::default();
        let window_ms = env_flag(&env, "CHAT_STATE_ALARM_WINDOW_MS")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|w| *w >= 0)
            .unwrap_or(crate::alarm::DEFAULT_WINDOW_MS);
        let storage = state.storage();
        let sql = storage.sql();
        let raw: &JsValue = storage.as_raw().as_ref();
        let tx_storage: TxStorage = raw.clone().unchecked_into();
        let shard = Shard {
            state,
            sql,
            tx_storage,
            engine: Engine::new(Arc::new(clock.clone())),
            clock,
            migrated: Cell::new(false),
            alarm: Alarm::new(window_ms),
            totals: Cell::new(Totals::default()),
            test_hooks: env_flag(&env, "CHAT_STATE_TEST_HOOKS").as_deref() == Some("1"),
        };
        Self {
            shard: Rc::new(shard),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if req.method() != Method::Post {
            return Response::error("POST a chat-state protocol envelope", 405);
        }
        let body = req.text().await?;
        let reply = self.shard.handle(body).await;
        let mut response = Response::ok(reply)?;
        response
            .headers_mut()
            .set("content-type", "application/json")?;
        Ok(response)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.shard.alarm.fired(&self.shard).await;
        Response::ok("")
    }
}

#[wasm_bindgen]
impl ChatStateDO {
    /// One protocol request in, one reply out: the RPC entry point.
    ///
    /// Returns the reply text directly when the call needs no asynchronous
    /// work, which is the common case, and a promise of it otherwise (host
    /// operations, and arming the cleanup alarm). Skipping the promise saves
    /// a noticeable share of a short call.
    pub fn call(&self, request: String) -> JsValue {
        match self.shard.run(request) {
            Step::Reply(reply) => JsValue::from(reply),
            step => {
                let shard = self.shard.clone();
                wasm_bindgen_futures::future_to_promise(async move {
                    Ok(JsValue::from(shard.finish(step).await))
                })
                .into()
            }
        }
    }
}

/// Where a call stands after its synchronous part.
pub(crate) enum Step {
    /// Done: the reply to send.
    Reply(String),
    /// A host operation, which may await storage.
    HostOp(String),
    /// Committed; the cleanup alarm may need arming for `expiry` first.
    Arm { reply: String, expiry: Option<i64> },
}

fn error_reply(error: &Error) -> String {
    json!({"v": wire::VERSION, "err": WireError::from_error(error)}).to_string()
}

impl Shard {
    pub(crate) async fn handle(&self, request: String) -> String {
        let step = self.run(request);
        self.finish(step).await
    }

    /// Completes a call's asynchronous part, if any.
    pub(crate) async fn finish(&self, step: Step) -> String {
        match step {
            Step::Reply(reply) => reply,
            Step::HostOp(request) => match crate::alarm::host_op(self, &request).await {
                Ok(reply) => reply,
                Err(e) => error_reply(&e),
            },
            Step::Arm { reply, expiry } => {
                // After the commit: failures here are logged, never reported
                // as a failure of the call (its effect is durable).
                self.alarm.after_call(self, expiry).await;
                reply
            }
        }
    }

    /// The synchronous part of a call: all of its SQL.
    pub(crate) fn run(&self, request: String) -> Step {
        let parsed = match wire::parse(&request) {
            Ok(parsed) => parsed,
            Err(outcome) => return Step::Reply(outcome.reply),
        };
        // Operations of the host rather than the contract: `inspect` (counts
        // for a state inspector) is always served, since only a Worker
        // holding the binding can reach the object; `test.*` hooks exist
        // only when the environment enables them.
        if parsed.op == "inspect" || (self.test_hooks && parsed.op.starts_with("test.")) {
            return Step::HostOp(request);
        }
        if let Err(e) = self.ensure_migrated() {
            return Step::Reply(error_reply(&e));
        }
        let (outcome, cost) = if wire::needs_transaction(parsed.op) {
            // Several writes: a failure midway must roll back the others.
            let engine = self.engine.clone();
            let owned = request.clone();
            let ran = self.transaction(move |conn| {
                let outcome = wire::dispatch(&engine, conn, &owned);
                let commit = !outcome.failed;
                (outcome, commit)
            });
            match ran {
                Ok(v) => v,
                Err(e) => return Step::Reply(error_reply(&e)),
            }
        } else {
            // At most one write, after every check that can fail: the
            // object's implicit atomicity is enough, and the call skips the
            // cost of an explicit transaction.
            let mut conn = DoSql::new(&self.sql);
            let outcome = wire::dispatch_parsed(&self.engine, &mut conn, &parsed);
            (outcome, conn.cost)
        };
        self.count(cost);
        let reply = if outcome.wants_cost {
            wire::with_cost(&outcome.reply, cost)
        } else {
            outcome.reply
        };
        if self.alarm.needs_work(outcome.expiry) {
            Step::Arm {
                reply,
                expiry: outcome.expiry,
            }
        } else {
            Step::Reply(reply)
        }
    }

    pub(crate) fn count(&self, cost: Cost) {
        let mut t = self.totals.get();
        t.calls += 1;
        t.rows_read += cost.rows_read;
        t.rows_written += cost.rows_written;
        self.totals.set(t);
    }

    pub(crate) fn storage(&self) -> worker::Storage {
        self.state.storage()
    }

    fn ensure_migrated(&self) -> Result<()> {
        if self.migrated.get() {
            return Ok(());
        }
        let engine = self.engine.clone();
        let (result, cost) = self.transaction(move |conn| {
            let r = engine.migrate(conn);
            let ok = r.is_ok();
            (r, ok)
        })?;
        self.count(cost);
        result?;
        self.migrated.set(true);
        Ok(())
    }

    /// Runs `f` inside `transactionSync`; `f` returns its value and whether
    /// to commit. The value comes back either way, with the rows counted.
    pub(crate) fn transaction<T: 'static>(
        &self,
        f: impl FnOnce(&mut DoSql<'_>) -> (T, bool) + 'static,
    ) -> Result<(T, Cost)> {
        let sql = self.sql.clone();
        let slot: Rc<RefCell<Option<(T, Cost)>>> = Rc::new(RefCell::new(None));
        let out = slot.clone();
        let body = Closure::once(move || -> std::result::Result<JsValue, JsValue> {
            let mut conn = DoSql::new(&sql);
            let (value, commit) = f(&mut conn);
            let cost = conn.cost;
            *out.borrow_mut() = Some((value, cost));
            if commit {
                Ok(JsValue::UNDEFINED)
            } else {
                Err(JsValue::from_str("rolled back"))
            }
        });
        let result = self
            .tx_storage
            .transaction_sync(body.as_ref().unchecked_ref());
        let taken = slot.borrow_mut().take();
        match taken {
            Some(v) => Ok(v),
            None => Err(Error::storage(
                "transactionSync",
                format!("{:?}", result.err().unwrap_or(JsValue::UNDEFINED)),
            )),
        }
    }

    /// Migrates if needed; used by the alarm and the test hooks too.
    pub(crate) fn ready(&self) -> Result<()> {
        self.ensure_migrated()
    }
}
