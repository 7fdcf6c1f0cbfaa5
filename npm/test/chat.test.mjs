// The package through a real Chat SDK bot with the web adapter, in the
// Workers runtime: concurrency strategies, dedupe, force, subscriptions,
// thread state and message history, with and without sharding.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { bundle, start } from "./runtime.mjs";

let mf;
let run = 0;

before(async () => {
	const folder = await bundle(
		path.join(import.meta.dirname, "chat/worker.js"),
		"chat",
	);
	mf = await start(folder);
});

after(async () => {
	await mf?.dispose();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh configuration: its own object name, so tests never share state. */
function config(extra = {}) {
	run += 1;
	return { name: `chat-test-${process.pid}-${run}`, ...extra };
}

/** POSTs one web-chat message and reads the streamed reply to the end. */
async function send(
	cfg,
	conversation,
	text,
	{ id = crypto.randomUUID(), user = "u1" } = {},
) {
	const body = {
		id: conversation,
		messages: [{ id, role: "user", parts: [{ type: "text", text }] }],
	};
	const response = await mf.dispatchFetch(
		`http://bot/chat?config=${encodeURIComponent(JSON.stringify(cfg))}`,
		{
			method: "POST",
			headers: { "content-type": "application/json", "x-user": user },
			body: JSON.stringify(body),
		},
	);
	const stream = await response.text();
	return { status: response.status, stream };
}

async function events(thread) {
	const all = await (await mf.dispatchFetch("http://bot/events")).json();
	return all.filter((e) => e.thread === thread);
}

async function handled(thread) {
	return (await events(thread))
		.filter((e) => e.phase === "end")
		.map((e) => e.text);
}

async function stateGet(cfg, key) {
	const q = `config=${encodeURIComponent(JSON.stringify(cfg))}&key=${encodeURIComponent(key)}`;
	return (await mf.dispatchFetch(`http://bot/state/get?${q}`)).json();
}

async function stateList(cfg, key) {
	const q = `config=${encodeURIComponent(JSON.stringify(cfg))}&key=${encodeURIComponent(key)}`;
	return (await mf.dispatchFetch(`http://bot/state/list?${q}`)).json();
}

for (const sharded of [false, true]) {
	describe(sharded ? "sharded by channel" : "one object", () => {
		test("a message runs the handler and the reply streams back", {
			timeout: 60_000,
		}, async () => {
			const cfg = config({ sharded });
			const conv = `hello-${run}`;
			const reply = await send(cfg, conv, "hello");
			assert.equal(reply.status, 200);
			assert.match(reply.stream, /mention:hello/);
			assert.deepEqual(await handled(`web:u1:${conv}`), ["hello"]);
		});

		test("the same message id twice runs the handler once", async () => {
			const cfg = config({ sharded });
			const conv = `dedupe-${run}`;
			const id = crypto.randomUUID();
			await send(cfg, conv, "once", { id });
			const again = await send(cfg, conv, "once", { id });
			assert.doesNotMatch(again.stream, /mention:once/);
			assert.deepEqual(await handled(`web:u1:${conv}`), ["once"]);
		});

		test("thread.subscribe() routes later messages to onSubscribedMessage", async () => {
			const cfg = config({ sharded });
			const conv = `sub-${run}`;
			const first = await send(cfg, conv, "please subscribe");
			assert.match(first.stream, /mention:please subscribe/);
			const second = await send(cfg, conv, "next");
			assert.match(second.stream, /subscribed:next/);
		});

		test("thread state persists across requests", async () => {
			const cfg = config({ sharded });
			const conv = `state-${run}`;
			await send(cfg, conv, "one");
			await send(cfg, conv, "two");
			const state = await stateGet(cfg, `thread-state:web:u1:${conv}`);
			assert.equal(state.count, 2);
			assert.equal(state.last, "two");
		});

		test("message history is persisted in a list", async () => {
			const cfg = config({ sharded });
			const conv = `history-${run}`;
			await send(cfg, conv, "first");
			await send(cfg, conv, "second");
			const history = await stateList(cfg, `msg-history:web:u1:${conv}`);
			const texts = history.map((m) => m.text);
			assert.ok(
				texts.includes("first") && texts.includes("second"),
				JSON.stringify(texts),
			);
			assert.ok(history.length >= 2);
		});
	});
}

describe("concurrency strategies", () => {
	test("drop: a message that arrives while the thread is busy is dropped", async () => {
		const cfg = config({ strategy: "drop" });
		const conv = `drop-${run}`;
		const first = send(cfg, conv, "slow400 a");
		await sleep(150);
		const second = await send(cfg, conv, "b");
		await first;
		assert.deepEqual(await handled(`web:u1:${conv}`), ["slow400 a"]);
		assert.doesNotMatch(second.stream, /mention:b/);
	});

	test("queue: a message that arrives while busy runs after the first", async () => {
		const cfg = config({ strategy: "queue" });
		const conv = `queue-${run}`;
		const first = send(cfg, conv, "slow400 a");
		await sleep(150);
		await send(cfg, conv, "b");
		await first;
		assert.deepEqual(await handled(`web:u1:${conv}`), ["slow400 a", "b"]);
	});

	test("debounce: of two quick messages only the last runs", async () => {
		const cfg = config({ strategy: "debounce" });
		const conv = `debounce-${run}`;
		const first = send(cfg, conv, "a");
		await sleep(10);
		await send(cfg, conv, "b");
		await first;
		assert.deepEqual(await handled(`web:u1:${conv}`), ["b"]);
	});

	test("burst: quick messages run the handler once, with the others as context", async () => {
		const cfg = config({ strategy: "burst" });
		const conv = `burst-${run}`;
		const first = send(cfg, conv, "a");
		await sleep(10);
		await send(cfg, conv, "b");
		await first;
		const ends = await handled(`web:u1:${conv}`);
		assert.equal(ends.length, 1, JSON.stringify(ends));
	});

	test("concurrent: handlers of one thread overlap", async () => {
		const cfg = config({ strategy: "concurrent" });
		const conv = `concurrent-${run}`;
		const first = send(cfg, conv, "slow400 a");
		await sleep(150);
		await send(cfg, conv, "b");
		await first;
		const log = await events(`web:u1:${conv}`);
		const order = log.map((e) => `${e.phase}:${e.text}`);
		assert.deepEqual(order, [
			"start:slow400 a",
			"start:b",
			"end:b",
			"end:slow400 a",
		]);
	});

	test("onLockConflict force: the newcomer takes the lock and both run", async () => {
		const cfg = config({ strategy: "drop", force: true });
		const conv = `force-${run}`;
		const first = send(cfg, conv, "slow400 a");
		await sleep(150);
		await send(cfg, conv, "b");
		await first;
		assert.deepEqual((await handled(`web:u1:${conv}`)).sort(), [
			"b",
			"slow400 a",
		]);
	});
});

describe("routing", () => {
	test("thread keys follow the thread's shard; dedupe keys are hashed", async () => {
		const cfg = config({ sharded: true });
		const object = async (key) => {
			const q = `config=${encodeURIComponent(JSON.stringify(cfg))}&key=${encodeURIComponent(key)}`;
			return (await mf.dispatchFetch(`http://bot/state/object?${q}`)).json();
		};
		assert.equal(await object("thread-state:web:u1:c1"), "web:u1");
		assert.equal(await object("msg-history:web:u1:c1"), "web:u1");
		assert.match(
			await object("dedupe:web:m1"),
			new RegExp(`^${cfg.name}#k\\d+$`),
		);
	});
});
