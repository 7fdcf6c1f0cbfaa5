//! A fetch handler for tests of [`CloudflareState`] inside the Workers
//! runtime. It answers only when the environment sets
//! `CHAT_STATE_TEST_HOOKS` to `"1"` and the `CHAT_STATE` binding exists;
//! otherwise every request gets 404, so a production Worker that imports
//! this module exposes nothing.

use chat_state::routing::{by_channel, Router};
use chat_state::wire::Route;
use chat_state::StateAdapter;
use serde_json::{json, Value};
use worker::{event, Context, Env, Request, Response};

use crate::{CloudflareState, CloudflareStateOptions};

/// Sends a raw protocol call to the object named `name`, bypassing routing.
async fn direct(env: &Env, name: &str, op: &str, args: Value) -> worker::Result<Value> {
    let ns = env.durable_object("CHAT_STATE")?;
    let stub = ns.get_by_name(name)?;
    let request = json!({"v": 1, "op": op, "args": args}).to_string();
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_body(Some(request.into()));
    let req = Request::new_with_init("https://chat-state/call", &init)?;
    let reply: Value = stub.fetch_with_request(req).await?.json().await?;
    Ok(reply["ok"].clone())
}

/// Writes through a sharded client, then reads every object directly to
/// see where each key landed.
async fn routing(env: &Env, run: &str) -> worker::Result<Value> {
    let name = format!("rt-{run}");
    let prefix = run.to_owned();
    let router =
        Router::new(name.clone()).shard_key(move |t| format!("{prefix}/{}", by_channel(t)));
    let state = CloudflareState::new(
        env.durable_object("CHAT_STATE")?,
        CloudflareStateOptions::new().router(router),
    );
    let fail = |e: chat_state::Error| worker::Error::RustError(e.to_string());
    state.connect().await.map_err(fail)?;

    let threads = ["slack:C1:T1", "slack:C1:T2", "slack:C2:T1"];
    let mut checks = Vec::new();
    for t in threads {
        state.subscribe(t).await.map_err(fail)?;
        let key = format!("thread-state:{t}");
        state
            .set(&key, &json!({"t": t}), None)
            .await
            .map_err(fail)?;
        let lock = state.acquire_lock(t, 30_000).await.map_err(fail)?;
        let object = state.object_for(Route::Thread(t));
        let subscribed = direct(env, &object, "isSubscribed", json!({"threadId": t})).await?;
        let stored = direct(env, &object, "get", json!({"key": key})).await?;
        let elsewhere = direct(env, &name, "isSubscribed", json!({"threadId": t})).await?;
        checks.push(json!({
            "thread": t,
            "object": object,
            "subscribedThere": subscribed,
            "stateThere": stored,
            "subscribedInDefault": elsewhere,
            "locked": lock.is_some(),
        }));
    }
    let mut buckets = serde_json::Map::new();
    for i in 0..64 {
        let key = format!("dedupe:slack:{i}");
        assert_written(&state, &key).await.map_err(fail)?;
        let object = state.object_for(Route::Key(&key));
        let found = direct(env, &object, "get", json!({"key": key})).await?;
        let entry = buckets.entry(object).or_insert(json!(0));
        if found.is_string() {
            *entry = json!(entry.as_u64().unwrap_or(0) + 1);
        }
    }
    Ok(json!({"threads": checks, "dedupeBuckets": buckets}))
}

async fn assert_written(state: &CloudflareState, key: &str) -> chat_state::Result<()> {
    if state
        .set_if_not_exists(key, &json!(true), Some(600_000))
        .await?
    {
        Ok(())
    } else {
        Err(chat_state::Error::Protocol {
            message: format!("{key} was already present"),
        })
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let enabled = env
        .var("CHAT_STATE_TEST_HOOKS")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false);
    let path = req.path();
    match (enabled, path.strip_prefix("/rust-client/routing/")) {
        (true, Some(run)) => Response::from_json(&routing(&env, run).await?),
        _ => Response::error("not found", 404),
    }
}
