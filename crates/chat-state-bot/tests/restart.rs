//! The bot, run as a real process twice on one state file.

use std::io::Write;
use std::process::{Command, Stdio};

fn run_bot(db: &std::path::Path, input: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-state-bot"))
        .args(["--db", db.to_str().ok_or("path is not UTF-8")?])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    assert!(out.status.success(), "bot exited with {}", out.status);
    Ok(String::from_utf8(out.stdout)?)
}

#[test]
fn the_bot_remembers_across_a_restart() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bot.db");

    let first = run_bot(&db, "hello\nremember the sky is blue\n")?;
    assert!(first.contains("Message 1 in this thread"), "{first}");
    assert!(
        first.contains("I will remember that the sky is blue"),
        "{first}"
    );

    let second = run_bot(&db, "what do you know?\nhistory\n")?;
    assert!(
        second.contains("Message 3 in this thread. I remember: the sky is blue."),
        "{second}"
    );
    assert!(
        second.contains(
            "The last 4 messages: hello | remember the sky is blue | what do you know? | history"
        ),
        "{second}"
    );
    Ok(())
}
