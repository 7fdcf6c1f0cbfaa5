//! A local chat bot on the embedded state store.
//!
//! It handles each line typed on standard input the way the Chat SDK core
//! handles an incoming message, and keeps its state in a SQLite file:
//!
//! 1. deduplicate by message id (`setIfNotExists` on `dedupe:…`, 10 min);
//! 2. append the message to the thread's history (`msg-history:…`, 100
//!    values, 7 days);
//! 3. take the thread's lock (`acquireLock`, 30 s), run the handler, release;
//! 4. the handler subscribes the thread on first contact, counts messages
//!    and remembers what it is told in `thread-state:…`.
//!
//! Run it twice: the second run remembers the first.
//!
//! ```text
//! cargo run -p chat-state-bot -- [--db PATH] [--thread ID]
//! ```

use std::path::PathBuf;

use chat_state::{ListOptions, StateAdapter};
use chat_state_sqlite::SqliteState;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tracing::info;

const DEDUPE_TTL_MS: i64 = 600_000;
const HISTORY: ListOptions = ListOptions {
    max_length: Some(100),
    ttl_ms: Some(604_800_000),
};
const LOCK_TTL_MS: i64 = 30_000;

struct Args {
    db: PathBuf,
    thread: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        db: PathBuf::from(".chat-state/bot.db"),
        thread: "local:terminal:main".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = PathBuf::from(value()?),
            "--thread" => args.thread = value()?,
            "-h" | "--help" => {
                return Err("usage: chat-state-bot [--db PATH] [--thread ID]".to_owned())
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok(args)
}

/// The reply to one message, computed from and written to the thread state.
async fn handle(state: &SqliteState, thread: &str, text: &str) -> chat_state::Result<String> {
    let key = format!("thread-state:{thread}");
    let mut memory = state.get(&key).await?.unwrap_or_else(|| json!({}));
    let count = memory["count"].as_i64().unwrap_or(0) + 1;
    memory["count"] = json!(count);

    let reply = if let Some(fact) = text.strip_prefix("remember ") {
        memory["facts"]
            .as_array_mut()
            .map(|facts| facts.push(json!(fact)))
            .unwrap_or_else(|| memory["facts"] = json!([fact]));
        format!("I will remember that {fact}.")
    } else if text == "history" {
        let history = state.get_list(&format!("msg-history:{thread}")).await?;
        let lines: Vec<String> = history
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect();
        format!("The last {} messages: {}", lines.len(), lines.join(" | "))
    } else {
        let facts: Vec<&str> = memory["facts"]
            .as_array()
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if facts.is_empty() {
            format!("Message {count} in this thread. Say \"remember <something>\" and I will.")
        } else {
            format!(
                "Message {count} in this thread. I remember: {}.",
                facts.join("; ")
            )
        }
    };
    state.set(&key, &memory, Some(2_592_000_000)).await?;
    Ok(reply)
}

/// One incoming message, through the same calls the Chat SDK core makes.
async fn on_message(
    state: &SqliteState,
    thread: &str,
    id: &str,
    text: &str,
) -> chat_state::Result<Option<String>> {
    if !state
        .set_if_not_exists(
            &format!("dedupe:local:{id}"),
            &json!(true),
            Some(DEDUPE_TTL_MS),
        )
        .await?
    {
        return Ok(None);
    }
    let message = json!({"id": id, "text": text, "threadId": thread});
    state
        .append_to_list(&format!("msg-history:{thread}"), &message, HISTORY)
        .await?;
    let Some(lock) = state.acquire_lock(thread, LOCK_TTL_MS).await? else {
        return Ok(Some("(busy: another handler holds this thread)".to_owned()));
    };
    let result = async {
        if !state.is_subscribed(thread).await? {
            state.subscribe(thread).await?;
            info!(thread, "subscribed");
        }
        handle(state, thread, text).await
    }
    .await;
    state.release_lock(&lock).await?;
    result.map(Some)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    if let Some(dir) = args.db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let state = SqliteState::open(&args.db);
    state.connect().await?;
    println!(
        "chat-state-bot: state in {}, thread {}. Type a message; \"history\" shows the history; Ctrl-D quits.",
        args.db.display(),
        args.thread
    );

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let id = uuid::Uuid::new_v4().to_string();
        match on_message(&state, &args.thread, &id, text).await? {
            Some(reply) => println!("bot> {reply}"),
            None => println!("bot> (duplicate message ignored)"),
        }
    }
    state.disconnect().await?;
    Ok(())
}
