//! Cost tests: no operation's work depends on how many other rows exist.
//!
//! Two independent checks:
//!
//! 1. Query plans. Every engine operation runs, down every branch, over a
//!    recording [`SqlConn`] on a database holding 100,000 other live rows;
//!    the test proves it saw every SQL statement in the engine's source and
//!    asks SQLite for the plan of each (see `plan_problem` for the rules):
//!    `every_statement_seeks_without_statistics` in the state the engine
//!    always runs in, `every_statement_seeks_under_statistics` after an
//!    `ANALYZE`, whose STAT4 samples let the planner weigh the bound `now`.
//! 2. Counted work. `hot_operations_cost_the_same_at_any_size` counts the
//!    statements and SQLite virtual-machine steps of one call of each hot
//!    operation through [`SqliteState`] with 0, 1,000 and 100,000 other rows.
//!
//! Run with `--nocapture` to see the plans and the table of steps.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use chat_state::sql::{Param, Row, SqlConn};
use chat_state::{Engine, ListOptions, ManualClock, QueueEntry, RawQueueEntry, StateAdapter};
use chat_state_sqlite::{Conn, SqliteState, StatementStats};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};
use serde_json::json;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The fixed instant every test runs at.
const NOW: i64 = 1_700_000_000_000;
/// The engine's default key prefix, as stored in every table.
const PREFIX: &str = "chat-sdk";
/// How many unrelated live rows the "large" database holds.
const OTHER_ROWS: usize = 100_000;

// ---------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------

/// Key spellings for seeded rows. They sort before and after the `hot:`
/// keys the operations use, so every seek lands between neighbours.
fn other_key(kind: &str, i: usize) -> String {
    const LEADS: [&str; 3] = ["a", "m", "z"];
    format!("{}-{kind}:{i}", LEADS[i % LEADS.len()])
}

/// Inserts exactly `total` live rows under the default prefix, spread over
/// every table: 60 % cache keys (three in four with an expiry), 10 % locks,
/// 10 % list rows (metadata plus 49 values per list), 10 % queue entries
/// (20 per queue) and the rest subscriptions. Returns the number inserted.
fn seed(conn: &Connection, now: i64, total: usize) -> rusqlite::Result<usize> {
    const ITEMS_PER_LIST: usize = 49;
    const ENTRIES_PER_QUEUE: usize = 20;
    let kv = total * 6 / 10;
    let locks = total / 10;
    let lists = total / 10 / (ITEMS_PER_LIST + 1);
    let queues = total / 10 / ENTRIES_PER_QUEUE;
    let subscriptions =
        total - kv - locks - lists * (ITEMS_PER_LIST + 1) - queues * ENTRIES_PER_QUEUE;
    let ms = |i: usize| i64::try_from(i).unwrap_or(i64::MAX);
    let mut inserted = 0;

    let mut stmt =
        conn.prepare("INSERT INTO cs_kv (prefix, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)")?;
    for i in 0..kv {
        let expiry = (i % 4 != 0).then(|| now + 3_600_000 + ms(i % 10_000));
        inserted += stmt.execute(params![PREFIX, other_key("kv", i), "{\"n\":1}", expiry])?;
    }

    let mut stmt = conn.prepare(
        "INSERT INTO cs_locks (prefix, lock_key, token, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for i in 0..locks {
        let expiry = now + 30_000 + ms(i);
        inserted += stmt.execute(params![PREFIX, other_key("lock", i), "token", expiry])?;
    }

    let mut meta = conn.prepare(
        "INSERT INTO cs_lists (prefix, key, expires_at, next_seq, len) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut item = conn
        .prepare("INSERT INTO cs_list_items (prefix, key, seq, value) VALUES (?1, ?2, ?3, ?4)")?;
    for i in 0..lists {
        let key = other_key("list", i);
        let len = ms(ITEMS_PER_LIST);
        inserted += meta.execute(params![PREFIX, key, now + 86_400_000, len, len])?;
        for seq in 0..len {
            inserted += item.execute(params![PREFIX, key, seq, "\"message\""])?;
        }
    }

    let mut stmt = conn.prepare(
        "INSERT INTO cs_queue (prefix, key, seq, enqueued_at, expires_at, entry)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for i in 0..queues {
        let key = other_key("queue", i);
        for seq in 1..=ms(ENTRIES_PER_QUEUE) {
            let expiry = now + 600_000 + seq;
            let entry = format!("{{\"enqueuedAt\":{now},\"expiresAt\":{expiry},\"message\":{{}}}}");
            inserted += stmt.execute(params![PREFIX, key, seq, now, expiry, entry])?;
        }
    }

    let mut stmt =
        conn.prepare("INSERT INTO cs_subscriptions (prefix, thread_id) VALUES (?1, ?2)")?;
    for i in 0..subscriptions {
        inserted += stmt.execute(params![PREFIX, other_key("thread", i)])?;
    }
    Ok(inserted)
}

// ---------------------------------------------------------------------------
// Test 1: the plan of every statement
// ---------------------------------------------------------------------------

/// Engine files of one-time migration steps (see `engine_statements`).
const ONE_TIME: [&str; 1] = ["takeover.rs"];

/// A [`SqlConn`] on a plain connection (autocommit) that remembers each
/// distinct statement it ran, with the parameters of its first run.
struct Recorder {
    conn: Connection,
    seen: Vec<(&'static str, Vec<SqlValue>)>,
}

fn to_value(param: &Param<'_>) -> SqlValue {
    match *param {
        Param::Null => SqlValue::Null,
        Param::Int(v) => SqlValue::Integer(v),
        Param::Text(s) => SqlValue::Text(s.to_owned()),
    }
}

impl SqlConn for Recorder {
    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> chat_state::Result<Vec<Row>> {
        if !self.seen.iter().any(|(known, _)| *known == sql) {
            self.seen.push((sql, params.iter().map(to_value).collect()));
        }
        Conn::new(&self.conn).query(sql, params)
    }
}

/// Every SQL string literal in the engine's source: the statements the
/// recorder must have seen. Read at run time so that a statement added in a
/// new module is covered too.
///
/// Files in `ONE_TIME` are left out: their statements run once per
/// database, inside `migrate`, over another package's tables, which they
/// read whole by design.
fn engine_statements() -> TestResult<BTreeSet<String>> {
    const KEYWORDS: [&str; 6] = [
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "WITH ",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chat-state/src/engine");
    let mut found = BTreeSet::new();
    for file in fs::read_dir(&dir)? {
        let path = file?.path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        if ONE_TIME.iter().any(|name| path.ends_with(name)) {
            continue;
        }
        let source = fs::read_to_string(&path)?;
        // Statements are plain literals without escapes, so a literal runs
        // from a quote directly followed by a keyword to the next quote.
        let mut rest = source.as_str();
        while let Some(open) = rest.find('"') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('"') else { break };
            let literal = &after[..close];
            if KEYWORDS.iter().any(|k| literal.starts_with(k)) {
                assert!(
                    !literal.contains('\\'),
                    "{}: escapes in SQL literal {literal:?}",
                    path.display()
                );
                found.insert(literal.to_owned());
                rest = &after[close + 1..];
            } else {
                // Not a statement: resume just after its opening quote, so a
                // closing quote is never mistaken for an opening one twice.
                rest = after;
            }
        }
    }
    assert!(
        found.len() > 20,
        "found only {} statements in {}",
        found.len(),
        dir.display()
    );
    Ok(found)
}

fn value(n: i64) -> String {
    format!("{{\"n\":{n}}}")
}

fn queue_entry(now: i64, ttl: i64) -> RawQueueEntry {
    RawQueueEntry {
        enqueued_at: now,
        expires_at: now + ttl,
        json: format!(
            "{{\"enqueuedAt\":{now},\"expiresAt\":{},\"message\":{{}}}}",
            now + ttl
        ),
    }
}

/// Runs every operation down every branch that issues a statement.
fn exercise(engine: &Engine, clock: &ManualClock, c: &mut Recorder) -> TestResult {
    // Subscriptions.
    engine.subscribe(c, "hot:thread")?;
    assert!(engine.is_subscribed(c, "hot:thread")?);
    engine.unsubscribe(c, "hot:thread")?;
    assert!(!engine.is_subscribed(c, "hot:thread")?);

    // Locks.
    let lock = engine
        .acquire_lock(c, "hot:lock", 30_000, None)?
        .ok_or("a free lock was not acquired")?;
    assert!(engine.acquire_lock(c, "hot:lock", 30_000, None)?.is_none());
    assert!(engine.extend_lock(c, "hot:lock", &lock.token, 60_000)?);
    assert!(engine.extend_lock(c, "hot:lock", &lock.token, 0)?);
    assert!(!engine.extend_lock(c, "hot:lock", &lock.token, 60_000)?);
    let lock = engine
        .acquire_lock(c, "hot:lock", 30_000, None)?
        .ok_or("a freed lock was not acquired")?;
    engine.release_lock(c, "hot:lock", &lock.token)?;
    engine
        .acquire_lock(c, "hot:lock", 30_000, None)?
        .ok_or("a released lock was not acquired")?;
    engine.force_release_lock(c, "hot:lock")?;

    // Cache.
    engine.set(c, "hot:kv", &value(1), None)?;
    engine.set(c, "hot:kv", &value(2), Some(60_000))?;
    assert_eq!(engine.get(c, "hot:kv")?, Some(value(2)));
    engine.set(c, "hot:kv", &value(3), Some(-1))?;
    assert_eq!(engine.get(c, "hot:kv")?, None);
    assert!(
        engine
            .set_if_not_exists(c, "hot:nx1", &value(1), None)?
            .value
    );
    assert!(
        !engine
            .set_if_not_exists(c, "hot:nx1", &value(2), None)?
            .value
    );
    assert!(
        engine
            .set_if_not_exists(c, "hot:nx2", &value(1), Some(60_000))?
            .value
    );
    assert!(
        engine
            .set_if_not_exists(c, "hot:nx3", &value(1), Some(-1))?
            .value
    );
    assert!(
        !engine
            .set_if_not_exists(c, "hot:nx2", &value(1), Some(-1))?
            .value
    );
    engine.delete(c, "hot:nx1")?;

    // Lists: fresh, appends that trim, onto a dead list, negative TTL.
    let bounded = ListOptions::max_length(3).with_ttl_ms(1_000);
    for n in 0..5 {
        engine.append_to_list(c, "hot:list", &value(n), bounded)?;
    }
    assert_eq!(
        engine.get_list(c, "hot:list")?,
        vec![value(2), value(3), value(4)]
    );
    clock.advance(2_000);
    engine.append_to_list(c, "hot:list", &value(9), bounded)?;
    assert_eq!(engine.get_list(c, "hot:list")?, vec![value(9)]);
    engine.append_to_list(
        c,
        "hot:list",
        &value(10),
        ListOptions::default().with_ttl_ms(-1),
    )?;
    assert!(engine.get_list(c, "hot:list")?.is_empty());
    let now = engine.now();

    // Queues: live, bounded (trims), dead on arrival, hit, empty.
    assert_eq!(
        engine
            .enqueue(c, "hot:queue", &queue_entry(now, 1_000), 0)?
            .value,
        1
    );
    for _ in 0..3 {
        engine.enqueue(c, "hot:queue", &queue_entry(now, 60_000), 2)?;
    }
    assert_eq!(engine.queue_depth(c, "hot:queue")?, 2);
    assert_eq!(
        engine
            .enqueue(c, "hot:queue", &queue_entry(now, -1), 2)?
            .value,
        2
    );
    assert!(engine.dequeue(c, "hot:queue")?.is_some());
    assert!(engine.dequeue(c, "hot:queue")?.is_some());
    assert!(engine.dequeue(c, "hot:queue")?.is_none());

    // Sweep: leave one due row of each kind, then purge.
    engine.set(c, "hot:due", &value(1), Some(10))?;
    engine.append_to_list(
        c,
        "hot:due",
        &value(1),
        ListOptions::default().with_ttl_ms(10),
    )?;
    engine.enqueue(c, "hot:due", &queue_entry(now, 10), 0)?;
    engine.acquire_lock(c, "hot:due", 10, None)?;
    clock.advance(100);
    let purge = engine.purge_expired(c, engine.now(), 100)?;
    assert_eq!(
        purge.deleted, 5,
        "one cache key, list, list value, queue entry and lock"
    );
    assert!(engine.next_expiry(c)?.is_some());
    Ok(())
}

/// One line of a query plan, with its depth in the plan tree.
struct PlanLine {
    depth: usize,
    detail: String,
}

fn query_plan(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
) -> rusqlite::Result<Vec<PlanLine>> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let rows = stmt.query_map(params_from_iter(params.iter()), |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut depths: HashMap<i64, usize> = HashMap::new();
    let mut lines = Vec::new();
    for row in rows {
        let (id, parent, detail) = row?;
        let depth = depths.get(&parent).map_or(0, |d| d + 1);
        depths.insert(id, depth);
        lines.push(PlanLine { depth, detail });
    }
    Ok(lines)
}

/// Whether a statement works on the rows of one key (it names the key)
/// rather than on the whole table by expiry.
fn is_per_key(sql: &str) -> bool {
    sql.contains("prefix = ?1")
}

/// Why a plan line may read rows the statement is not about, if it can.
///
/// SQLite prints `SCAN t ...` for a pass over a whole table or index and
/// `SEARCH t USING <index> (<constraints>)` for a seek plus a range bounded
/// by the constraints. The rules:
///
/// - a statement about one key reaches its rows through the primary key,
///   which leads with the prefix and the key; any other index (an expiry
///   index) ranges over the rows of every key;
/// - a sweep statement ranges over an expiry index only up to now
///   (`expires_at<?`), in index order so that its LIMIT ends the range, and
///   deletes what it picked by whole primary keys;
/// - a next-expiry read only seeks the first entry of an expiry index;
/// - nothing sorts its matches in a temporary B-tree.
fn plan_problem(sql: &str, detail: &str) -> Option<&'static str> {
    if detail.starts_with("SCAN ") && detail != "SCAN CONSTANT ROW" {
        return Some("reads a whole table or index");
    }
    if detail.starts_with("USE TEMP B-TREE") {
        return Some("collects and sorts every match before its LIMIT");
    }
    let search = detail.strip_prefix("SEARCH ")?;
    let Some((_, access)) = search.split_once(" USING ") else {
        return Some("searches without an index");
    };
    let by_key = access.starts_with("PRIMARY KEY (prefix=? AND ");
    if is_per_key(sql) {
        return (!by_key)
            .then_some("reaches one key's rows through another index than the primary key");
    }
    if by_key {
        let range = access.contains('<') || access.contains('>');
        return range.then_some("ranges over the primary key in a sweep");
    }
    if access == "INTEGER PRIMARY KEY (rowid=?)" {
        return None;
    }
    let Some(rest) = access.strip_prefix("COVERING INDEX ") else {
        return Some("uses an index that is neither the primary key nor a covering expiry index");
    };
    let (index, constraint) = rest.split_once(' ').unwrap_or((rest, ""));
    if !index.ends_with("_expiry") {
        return Some("uses an index that is not an expiry index");
    }
    let first_entry = sql.starts_with("SELECT MIN(expires_at) FROM ");
    match constraint {
        // MIN over an index is a seek to its first (non-NULL) entry.
        "" | "(expires_at>?)" if first_entry => None,
        _ if !first_entry && constraint.contains("expires_at<?") => None,
        _ => Some("ranges over an expiry index without ending at now"),
    }
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Prints the plan of every recorded statement and returns what is wrong
/// with them.
fn check_plans(rec: &Recorder, label: &str) -> TestResult<Vec<String>> {
    println!("\n=== query plans {label} ===");
    let mut problems = Vec::new();
    for (sql, params) in &rec.seen {
        let plan = query_plan(&rec.conn, sql, params)?;
        println!("\n{}", one_line(sql));
        if plan.is_empty() {
            println!("    (no table read)");
        }
        for line in &plan {
            println!("    {}{}", "  ".repeat(line.depth), line.detail);
            if let Some(problem) = plan_problem(sql, &line.detail) {
                problems.push(format!(
                    "{label}: `{}` {problem}: {}",
                    one_line(sql),
                    line.detail
                ));
            }
        }
    }
    Ok(problems)
}

/// A database with the schema and 100,000 other live rows, on which every
/// engine operation has run once, with every engine statement recorded.
fn recorded() -> TestResult<Recorder> {
    let clock = Arc::new(ManualClock::new(NOW));
    let engine = Engine::new(clock.clone());
    let mut rec = Recorder {
        conn: Connection::open_in_memory()?,
        seen: Vec::new(),
    };
    engine.migrate(&mut rec)?;
    rec.conn.execute_batch("BEGIN")?;
    let seeded = seed(&rec.conn, NOW, OTHER_ROWS)?;
    rec.conn.execute_batch("COMMIT")?;
    assert_eq!(seeded, OTHER_ROWS);

    exercise(&engine, &clock, &mut rec)?;

    // Plans are checked for the engine's statements only; the one-time
    // takeover's discovery also ran, on this fresh database.
    let statements = engine_statements()?;
    rec.seen.retain(|(sql, _)| statements.contains(*sql));
    let captured: BTreeSet<String> = rec.seen.iter().map(|(s, _)| (*s).to_owned()).collect();
    let missing: Vec<String> = statements
        .difference(&captured)
        .map(|s| one_line(s))
        .collect();
    assert!(
        missing.is_empty(),
        "statements never run by the test: {missing:#?}"
    );
    println!("{} distinct statements captured", captured.len());
    Ok(rec)
}

fn print_statistics(conn: &Connection) -> rusqlite::Result<()> {
    println!("\n=== sqlite_stat1 ===");
    let mut stmt = conn.prepare("SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (tbl, idx, stat): (String, Option<String>, String) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        println!("    {tbl:<18} {:<18} {stat}", idx.unwrap_or_default());
    }
    Ok(())
}

/// The engine never runs `ANALYZE`, so this is the plan every home gets.
#[test]
fn every_statement_seeks_without_statistics() -> TestResult {
    let rec = recorded()?;
    let problems = check_plans(&rec, "without statistics")?;
    assert!(
        problems.is_empty(),
        "statements that read beyond their rows: {problems:#?}"
    );
    Ok(())
}

/// An operator may run `ANALYZE` (or `PRAGMA optimize`), and the bundled
/// SQLite has STAT4, so plans then depend on the sampled expiries and on the
/// bound `now`. Two cases: statistics of the live database, and stale
/// statistics taken while most rows were expired (a sweep backlog) but
/// applied to a database whose rows are live again.
#[test]
fn every_statement_seeks_under_statistics() -> TestResult {
    const SHIFT_MS: i64 = 30 * 86_400_000;
    let rec = recorded()?;

    rec.conn.execute_batch("ANALYZE")?;
    print_statistics(&rec.conn)?;
    let mut problems = check_plans(&rec, "after ANALYZE of live rows")?;

    let shift = |sign: char| {
        ["cs_kv", "cs_locks", "cs_lists", "cs_queue"]
            .map(|t| format!("UPDATE {t} SET expires_at = expires_at {sign} {SHIFT_MS} WHERE expires_at IS NOT NULL;"))
            .concat()
    };
    rec.conn.execute_batch(&format!(
        "BEGIN; {} ANALYZE; {} COMMIT;",
        shift('-'),
        shift('+')
    ))?;
    problems.extend(check_plans(&rec, "with statistics of expired rows")?);

    assert!(
        problems.is_empty(),
        "statements that read beyond their rows: {problems:#?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Test 2: counted work of the hot operations
// ---------------------------------------------------------------------------

/// What one call cost, from the store's statement counters.
#[derive(Debug, Clone, Copy)]
struct Cost {
    operation: &'static str,
    statements: u64,
    vm_steps: u64,
    fullscan_steps: u64,
    rows_returned: u64,
}

impl Cost {
    fn between(operation: &'static str, before: StatementStats, after: StatementStats) -> Self {
        Self {
            operation,
            statements: after.statements - before.statements,
            vm_steps: after.vm_steps - before.vm_steps,
            fullscan_steps: after.fullscan_steps - before.fullscan_steps,
            rows_returned: after.rows_returned - before.rows_returned,
        }
    }
}

/// One call of each hot operation on a fresh in-memory store that holds
/// `others` unrelated live rows. Calls run inline (no runtime).
fn measure(others: usize) -> TestResult<Vec<Cost>> {
    futures::executor::block_on(async move {
        let clock = Arc::new(ManualClock::new(NOW));
        let state = SqliteState::builder_in_memory()
            .clock(clock)
            .sweep_interval(None)
            .build();
        state.connect().await?;
        let seeded = state
            .with_connection(move |conn| seed(conn, NOW, others))
            .await?;
        assert_eq!(seeded, others);

        // Set-up, not measured.
        let message = json!({"id": "m", "text": "hello"});
        let window = ListOptions::max_length(50).with_ttl_ms(3_600_000);
        for _ in 0..50 {
            state
                .append_to_list("hot:history", &message, window)
                .await?;
            state.append_to_list("hot:read", &message, window).await?;
        }
        let entry = QueueEntry {
            enqueued_at: NOW,
            expires_at: NOW + 60_000,
            message: message.clone(),
        };

        let mut costs = Vec::new();
        let mut before = state.stats();
        let mut record = |operation: &'static str, state: &SqliteState| {
            let after = state.stats();
            costs.push(Cost::between(operation, before, after));
            before = after;
        };

        state.set("hot:set", &message, Some(60_000)).await?;
        record("set, ttl", &state);
        assert!(
            state
                .set_if_not_exists("hot:nx", &message, Some(60_000))
                .await?
        );
        record("setIfNotExists, ttl, new key", &state);
        assert!(state.get("hot:set").await?.is_some());
        record("get, hit", &state);
        let lock = state
            .acquire_lock("hot:lock", 30_000)
            .await?
            .ok_or("lock not acquired")?;
        state.release_lock(&lock).await?;
        record("acquireLock + releaseLock", &state);
        assert_eq!(state.enqueue("hot:queue", &entry, 10).await?, 1);
        assert!(state.dequeue("hot:queue").await?.is_some());
        record("enqueue (maxSize 10) + dequeue", &state);
        state
            .append_to_list("hot:history", &message, window)
            .await?;
        record("appendToList, full 50, ttl", &state);
        assert_eq!(state.get_list("hot:read").await?.len(), 50);
        record("getList, 50 values", &state);
        state.subscribe("hot:thread").await?;
        record("subscribe, new", &state);
        assert!(state.is_subscribed("hot:thread").await?);
        record("isSubscribed, hit", &state);
        assert_eq!(state.purge_expired().await?.deleted, 0);
        record("purgeExpired, nothing due", &state);
        Ok(costs)
    })
}

/// A size at which every table already holds rows on both sides of each
/// key the operations use.
const FEW_ROWS: usize = 1_000;

#[test]
fn hot_operations_cost_the_same_at_any_size() -> TestResult {
    let empty = measure(0)?;
    let few = measure(FEW_ROWS)?;
    let many = measure(OTHER_ROWS)?;

    println!(
        "\n{:<32} {:>5} {:>5} {:>8} {:>8} {:>8} {:>10}",
        "operation (one call)", "stmts", "rows", "vm @0", "vm @1k", "vm @100k", "fullscan"
    );
    for ((e, f), m) in empty.iter().zip(&few).zip(&many) {
        println!(
            "{:<32} {:>5} {:>5} {:>8} {:>8} {:>8} {:>4}/{}/{}",
            e.operation,
            e.statements,
            e.rows_returned,
            e.vm_steps,
            f.vm_steps,
            m.vm_steps,
            e.fullscan_steps,
            f.fullscan_steps,
            m.fullscan_steps
        );
    }

    assert_eq!(empty.len(), many.len());
    assert_eq!(few.len(), many.len());
    for ((e, f), m) in empty.iter().zip(&few).zip(&many) {
        let op = m.operation;
        assert_eq!((e.operation, f.operation), (op, op));
        for c in [e, f, m] {
            assert_eq!(c.fullscan_steps, 0, "{op}: full-scan steps");
            assert_eq!(c.statements, m.statements, "{op}: statements run");
            assert_eq!(c.rows_returned, m.rows_returned, "{op}: rows returned");
        }
        // Once the tables hold rows around the operation's keys, the work
        // is the same to the step, whatever the table size and B-tree depth
        // (a seek is one step however deep it goes).
        assert_eq!(
            f.vm_steps, m.vm_steps,
            "{op}: vm steps at {FEW_ROWS} and {OTHER_ROWS} rows"
        );
        // In empty tables an index seek lands on no entry, so the steps
        // that read and test the entry it lands on are skipped: at most
        // four per statement (measured: a sweep range or MIN seek saves
        // four, a per-key range one).
        assert!(
            e.vm_steps <= m.vm_steps && m.vm_steps <= e.vm_steps + 4 * m.statements,
            "{op}: vm steps {} with no other rows, {} with {OTHER_ROWS}",
            e.vm_steps,
            m.vm_steps
        );
    }
    Ok(())
}
