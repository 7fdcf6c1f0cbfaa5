// The peers' Durable Object classes, subclassed only to count: their SQL
// rows, setAlarm calls and alarm runs, plus a fast seeding method that writes
// the same rows their own `set` writes. Their behaviour is untouched.

import { DurableObject } from "cloudflare:workers";
import { Agent } from "agents";
import { ChatSdkStateAgent, createChatSdkState } from "agents/chat-sdk";
import { ChatStateDO as OriginalChatStateDO } from "chat-state-cloudflare-do-original";
import { instrument, newCounters, snapshot } from "./count.js";
import { PHASES, runBatch } from "./phases.js";
import { alarmProbeWrites, chatMessages } from "./probes.js";

/** Inserts `count` live cache rows in one statement (a recursive CTE). */
function seedRows(exec, table, { count, ttlMs, prefix }) {
	exec(
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		 INSERT OR REPLACE INTO ${table} (key, value, expires_at)
		 SELECT ? || i, 'true', ? FROM n`,
		count,
		prefix,
		Date.now() + ttlMs,
	).toArray();
	return count;
}

function countRows(exec, table) {
	return exec(`SELECT COUNT(*) AS n FROM ${table}`).one().n;
}

/** The published original package's object, counted. */
export class OriginalStateDO extends OriginalChatStateDO {
	#counters;
	#exec;

	constructor(ctx, env) {
		const counters = newCounters();
		const exec = instrument(ctx, counters);
		super(ctx, env);
		this.#counters = counters;
		this.#exec = exec;
	}

	async alarm() {
		this.#counters.alarmRuns++;
		return super.alarm();
	}

	benchStats() {
		return {
			...snapshot(this.#counters),
			counts: {
				cache: countRows(this.#exec, "cache"),
				locks: countRows(this.#exec, "locks"),
				subscriptions: countRows(this.#exec, "subscriptions"),
			},
		};
	}

	benchSeed(args) {
		return seedRows(this.#exec, "cache", args);
	}
}

/** The agents package's Chat SDK state object (a facet of a parent Agent), counted. */
export class BenchStateAgent extends ChatSdkStateAgent {
	#counters;
	#exec;

	constructor(ctx, env) {
		const counters = newCounters();
		const exec = instrument(ctx, counters);
		super(ctx, env);
		this.#counters = counters;
		this.#exec = exec;
	}

	benchStats() {
		return {
			...snapshot(this.#counters),
			counts: {
				cache: countRows(this.#exec, "chat_sdk_state_cache"),
				lists: countRows(this.#exec, "chat_sdk_state_lists"),
				queue: countRows(this.#exec, "chat_sdk_state_queue"),
			},
		};
	}

	benchSeed(args) {
		return seedRows(this.#exec, "chat_sdk_state_cache", args);
	}
}

/**
 * The parent Agent the agents adapter needs: its state objects are facets of
 * it, and it holds their alarms. The benchmark loop runs here, as it would in
 * a bot built on agents.
 */
export class BenchAgentParent extends Agent {
	#counters;
	#facets = new Map();
	#state;

	constructor(ctx, env) {
		const counters = newCounters();
		instrument(ctx, counters);
		super(ctx, env);
		this.#counters = counters;
	}

	async alarm() {
		this.#counters.alarmRuns++;
		return super.alarm();
	}

	/** Remembers each facet stub so that stats reach it without new lookups. */
	async subAgent(cls, name) {
		const stub = await super.subAgent(cls, name);
		this.#facets.set(name, stub);
		return stub;
	}

	state() {
		if (!this.#state) {
			this.#state = createChatSdkState({
				parent: this,
				agent: BenchStateAgent,
			});
			this.#state.connect();
		}
		return this.#state;
	}

	async benchRun(spec) {
		return runBatch(this.state(), spec);
	}

	async benchPrepare({ phase, conc }) {
		await PHASES[phase].prepare?.(this.state(), conc);
	}

	/** The parent's counters plus every facet's, summed. */
	async benchStats() {
		const total = { ...snapshot(this.#counters), counts: {} };
		total.parent = { ...total, counts: undefined };
		for (const stub of this.#facets.values()) {
			const s = await stub.benchStats();
			for (const k of [
				"statements",
				"rowsRead",
				"rowsWritten",
				"setAlarmCalls",
			])
				total[k] += s[k];
			for (const [k, v] of Object.entries(s.counts))
				total.counts[k] = (total.counts[k] ?? 0) + v;
		}
		return total;
	}

	/** Seeds the facet that holds keys without a thread id. */
	async benchSeed(args) {
		const stub = await this.subAgent(BenchStateAgent, "default");
		return stub.benchSeed(args);
	}

	async benchAlarmProbe(args) {
		return alarmProbeWrites(this.state(), args);
	}

	async benchProbeCall() {
		return this.state().isSubscribed("bench:C1:cold");
	}

	async benchChat(args) {
		return chatMessages(this.state(), args);
	}
}

/**
 * The runtime's limit: an RPC method that does nothing. The other methods
 * take a call apart for the anatomy probe: a string echoed back, one indexed
 * read on the object's SQLite, and the same read inside `transactionSync`.
 */
export class NoopDO extends DurableObject {
	constructor(ctx, env) {
		super(ctx, env);
		ctx.storage.sql.exec(
			"CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
		);
		ctx.storage.sql.exec("INSERT OR REPLACE INTO t VALUES ('k', 'v')");
	}

	noop() {
		return null;
	}

	echo(text) {
		return text;
	}

	read(key) {
		return this.ctx.storage.sql
			.exec("SELECT v FROM t WHERE k = ?", key)
			.toArray().length;
	}

	readInTransaction(key) {
		return this.ctx.storage.transactionSync(() => this.read(key));
	}

	write(key) {
		this.ctx.storage.sql.exec("INSERT OR REPLACE INTO t VALUES (?, 'v')", key);
		return null;
	}

	writeInTransaction(key) {
		return this.ctx.storage.transactionSync(() => this.write(key));
	}
}
