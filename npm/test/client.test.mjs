// The package's client against a scripted stand-in for the object: retries
// only what is safe, never applies a write twice, reports overload at once,
// and refuses bad input with clear errors before sending anything.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createCloudflareState } from "../src/client.js";

const retryable = () =>
	Object.assign(new Error("connection lost"), { retryable: true });
const overloaded = () =>
	Object.assign(new Error("overloaded"), { retryable: true, overloaded: true });

/**
 * A namespace whose objects answer from `reply(request)`, failing on a
 * script of faults: `{ when: "before" | "after", error }`.
 */
function scripted(reply = () => null) {
	const script = [];
	const attempts = [];
	const namespace = {
		idFromName: (name) => name,
		get: (id) => ({
			async call(text) {
				const request = JSON.parse(text);
				const fault = script.shift();
				attempts.push({
					object: id,
					op: request.op,
					args: request.args,
					applied: fault?.when !== "before",
				});
				if (fault?.when === "before") throw fault.error;
				const ok = reply(request);
				if (fault?.when === "after") throw fault.error;
				return JSON.stringify({ v: 1, ok });
			},
		}),
	};
	return { namespace, script, attempts };
}

async function connected(namespace, options = {}) {
	const state = createCloudflareState({
		namespace,
		retry: { baseDelayMs: 1 },
		...options,
	});
	await state.connect();
	return state;
}

describe("retries", () => {
	test("a read is retried after a transient failure", async () => {
		const s = scripted(() => '{"a":1}');
		const state = await connected(s.namespace);
		s.script.push(
			{ when: "before", error: retryable() },
			{ when: "after", error: retryable() },
		);
		assert.deepEqual(await state.get("k"), { a: 1 });
		assert.deepEqual(
			s.attempts.map((a) => a.op),
			["get", "get", "get"],
		);
	});

	test("overload is reported at once", async () => {
		const s = scripted();
		const state = await connected(s.namespace);
		s.script.push({ when: "before", error: overloaded() });
		await assert.rejects(state.get("k"), /overloaded/);
		assert.equal(s.attempts.length, 1);
	});

	test("retries stop after three attempts", async () => {
		const s = scripted();
		const state = await connected(s.namespace);
		for (let i = 0; i < 4; i++)
			s.script.push({ when: "before", error: retryable() });
		await assert.rejects(state.isSubscribed("t"), /connection lost/);
		assert.equal(s.attempts.length, 3);
	});

	for (const [method, args] of [
		["enqueue", ["t", { enqueuedAt: 1, expiresAt: 2, message: {} }, 10]],
		["appendToList", ["h", "m", { maxLength: 10 }]],
		["setIfNotExists", ["dedupe:1", true, 1000]],
		["dequeue", ["t"]],
	]) {
		test(`${method} is applied once and never retried after a lost reply`, async () => {
			const s = scripted(() => 1);
			const state = await connected(s.namespace);
			s.script.push({ when: "after", error: retryable() });
			await assert.rejects(state[method](...args), /connection lost/);
			assert.equal(s.attempts.length, 1);
			assert.equal(s.attempts[0].applied, true);
		});
	}

	test("a lost acquire is retried with the same token, so it finds its own lease", async () => {
		const s = scripted((req) => ({
			threadId: req.args.threadId,
			token: req.args.token,
			expiresAt: 5,
		}));
		const state = await connected(s.namespace);
		s.script.push({ when: "after", error: retryable() });
		const lock = await state.acquireLock("t", 30_000);
		assert.equal(s.attempts.length, 2);
		assert.equal(s.attempts[0].args.token, s.attempts[1].args.token);
		assert.equal(lock.token, s.attempts[0].args.token);
	});

	test("each attempt gets a fresh stub", async () => {
		const s = scripted(() => true);
		let stubs = 0;
		const get = s.namespace.get;
		s.namespace.get = (id) => {
			stubs += 1;
			return get(id);
		};
		const state = await connected(s.namespace);
		s.script.push({ when: "before", error: retryable() });
		await state.isSubscribed("t");
		assert.equal(stubs, 2);
	});
});

describe("bad input is refused before anything is sent", () => {
	const cycle = {};
	cycle.self = cycle;
	const cases = [
		[
			"set undefined",
			(st) => st.set("k", undefined),
			"invalid_argument",
			/undefined/,
		],
		["set BigInt", (st) => st.set("k", 10n), "invalid_argument", /BigInt/],
		[
			"set a cycle",
			(st) => st.set("k", cycle),
			"invalid_argument",
			/circular/i,
		],
		[
			"set a function",
			(st) => st.set("k", () => 1),
			"invalid_argument",
			/function/,
		],
		[
			"set Infinity TTL",
			(st) => st.set("k", 1, Infinity),
			"invalid_argument",
			/finite/,
		],
		[
			"set a string TTL",
			(st) => st.set("k", 1, "10"),
			"invalid_argument",
			/number/,
		],
		[
			"set a 2 MB value",
			(st) => st.set("k", "x".repeat(2_000_000)),
			"value_too_large",
			/1990000/,
		],
		[
			"append 1,990,001 bytes",
			(st) => st.appendToList("k", "é".repeat(995_000)),
			"value_too_large",
			/1990000/,
		],
		[
			"acquireLock without TTL",
			(st) => st.acquireLock("t"),
			"invalid_argument",
			/ttlMs/,
		],
		[
			"acquireLock NaN TTL",
			(st) => st.acquireLock("t", Number.NaN),
			"invalid_argument",
			/ttlMs/,
		],
		[
			"acquireLock a non-string key",
			(st) => st.acquireLock(42, 1000),
			"invalid_argument",
			/string/,
		],
		[
			"enqueue without times",
			(st) => st.enqueue("t", { message: {} }, 10),
			"invalid_argument",
			/enqueuedAt/,
		],
		[
			"enqueue undefined",
			(st) => st.enqueue("t", undefined, 10),
			"invalid_argument",
			/enqueuedAt/,
		],
	];
	for (const [name, call, code, message] of cases) {
		test(name, async () => {
			const s = scripted();
			const state = await connected(s.namespace);
			let result;
			assert.doesNotThrow(() => {
				result = call(state);
			}, "failures are rejected promises, never synchronous throws");
			await assert.rejects(result, (error) => {
				assert.equal(error.code, code);
				assert.match(error.message, message);
				return true;
			});
			assert.equal(s.attempts.length, 0);
		});
	}

	test("values JSON carries exactly are sent as they are", async () => {
		const s = scripted();
		const state = await connected(s.namespace);
		await state.set("k", "x".repeat(1_989_998));
		await state.set("n", null);
		await state.appendToList(
			"l",
			{ nested: [1, "two", null] },
			{ maxLength: Number.POSITIVE_INFINITY },
		);
		assert.equal(s.attempts.length, 3);
		assert.equal(s.attempts[1].args.value, "null");
		assert.equal(
			s.attempts[2].args.maxLength,
			null,
			"a non-finite bound means unbounded",
		);
	});

	test("NaN and absent TTLs mean none; fractions are sent for the object to round", async () => {
		const s = scripted();
		const state = await connected(s.namespace);
		await state.set("a", 1, Number.NaN);
		await state.set("b", 1);
		await state.set("c", 1, 0.4);
		assert.deepEqual(
			s.attempts.map((a) => a.args.ttlMs),
			[null, null, 0.4],
		);
	});
});

describe("lifecycle and options", () => {
	test("a missing namespace is a clear error", () => {
		assert.throws(() => createCloudflareState({}), /namespace.*required/);
	});

	test("calls fail as not connected before connect and after disconnect", async () => {
		const s = scripted();
		const state = createCloudflareState({ namespace: s.namespace });
		await assert.rejects(
			state.get("k"),
			(e) => e.code === "not_connected" && /not connected/.test(e.message),
		);
		await state.connect();
		await state.get("k");
		await state.disconnect();
		await assert.rejects(state.subscribe("t"), /not connected/);
		assert.equal(s.attempts.length, 1);
	});

	test("without routing options everything goes to the named object", async () => {
		const s = scripted();
		const state = await connected(s.namespace, { name: "bot" });
		await state.subscribe("slack:C1:T1");
		await state.get("dedupe:x");
		assert.deepEqual(
			s.attempts.map((a) => a.object),
			["bot", "bot"],
		);
	});

	test("errors from the object keep their code", async () => {
		const namespace = {
			idFromName: (n) => n,
			get: () => ({
				call: async () =>
					JSON.stringify({
						v: 1,
						err: { code: "value_too_large", message: "too big" },
					}),
			}),
		};
		const state = await connected(namespace);
		await assert.rejects(
			state.set("k", 1),
			(e) => e.code === "value_too_large" && e.message === "too big",
		);
	});

	test("a newer object's version error says what to do", async () => {
		const namespace = {
			idFromName: (n) => n,
			get: () => ({
				call: async () =>
					JSON.stringify({
						v: 2,
						err: { code: "unsupported_version", message: "no", min: 2, cur: 3 },
					}),
			}),
		};
		const state = await connected(namespace);
		await assert.rejects(
			state.get("k"),
			(e) => e.code === "protocol" && /versions 2 to 3/.test(e.message),
		);
	});
});
