// The benchmark Worker. Every implementation sits behind the same StateAdapter
// calls (phases.js); the driver (bench/run.mjs) posts one JSON request per
// batch or probe and times it from outside.
//
//   ours      createCloudflareState over ChatStateDO (npm/)
//   original  the published chat-state-cloudflare-do, its object counted
//   agents    createChatSdkState from agents/chat-sdk, run inside its parent Agent
//   memory    @chat-adapter/state-memory in this isolate: the upper bound
//   noop      a JavaScript object's no-op RPC method: the runtime's limit

import { createMemoryState } from "@chat-adapter/state-memory";
import {
	byChannel,
	ChatStateDO,
	createCloudflareState,
} from "chat-state-cloudflare-do";
import { createCloudflareState as createOriginalState } from "chat-state-cloudflare-do-original";
import { countingNamespace } from "./count.js";
import { MESSAGE, PHASES, runBatch, runNoopBatch, supports } from "./phases.js";
import { alarmProbeWrites, chatMessages } from "./probes.js";

export {
	BenchAgentParent,
	BenchStateAgent,
	NoopDO,
	OriginalStateDO,
} from "./peers.js";
export { ChatStateDO };

/** Adapters by implementation and object name, with their calls per object. */
const adapters = new Map();

function adapter(env, impl, name, routing) {
	const id = `${impl}/${name}/${routing ?? ""}`;
	if (!adapters.has(id)) {
		const calls = new Map();
		let state;
		if (impl === "ours") {
			const namespace = countingNamespace(env.OURS, calls);
			state =
				routing === "byChannel"
					? createCloudflareState({ namespace, name, shardKey: byChannel })
					: routing === "original"
						? createCloudflareState({
								namespace,
								name,
								shardKey: byChannel,
								keyShard: () => name,
							})
						: createCloudflareState({ namespace, name });
		} else if (impl === "original") {
			state = createOriginalState({
				namespace: countingNamespace(env.ORIGINAL, calls),
				name,
			});
		} else if (impl === "memory") {
			state = createMemoryState();
		} else {
			throw new Error(`no adapter for ${impl}`);
		}
		adapters.set(id, { state, calls, connected: state.connect() });
	}
	return adapters.get(id);
}

async function connected(env, impl, name, routing) {
	const a = adapter(env, impl, name, routing);
	await a.connected;
	return a;
}

const agent = (env, name) => env.AGENTS.getByName(name);

/** Rows, alarms and row counts of the object(s) behind `name`. */
async function stats(env, impl, name) {
	if (impl === "ours") {
		const reply = JSON.parse(
			await env.OURS.getByName(name).call('{"v":1,"op":"inspect"}'),
		);
		if (reply.err) throw new Error(reply.err.message);
		return reply.ok;
	}
	if (impl === "original") return env.ORIGINAL.getByName(name).benchStats();
	if (impl === "agents") return agent(env, name).benchStats();
	return null;
}

async function seed(env, impl, name, args) {
	if (impl === "ours") {
		const reply = JSON.parse(
			await env.OURS.getByName(name).call(
				JSON.stringify({ v: 1, op: "test.seed", args }),
			),
		);
		if (reply.err) throw new Error(reply.err.message);
		return reply.ok;
	}
	if (impl === "original") return env.ORIGINAL.getByName(name).benchSeed(args);
	if (impl === "agents") return agent(env, name).benchSeed(args);
	throw new Error(`cannot seed ${impl}`);
}

async function run(env, { impl, name, phase, n, conc, seq }) {
	if (impl === "noop")
		return runNoopBatch(() => env.NOOP.get(env.NOOP.idFromName(name)), {
			phase,
			n,
			conc,
		});
	if (impl === "agents")
		return agent(env, name).benchRun({ phase, n, conc, seq });
	const { state } = await connected(env, impl, name);
	return runBatch(state, { phase, n, conc, seq });
}

async function prepare(env, { impl, name, phase, conc }) {
	if (impl === "noop") return true;
	if (impl === "agents") {
		await agent(env, name).benchPrepare({ phase, conc });
		return true;
	}
	const { state } = await connected(env, impl, name);
	if (!supports(state, phase)) return false;
	await PHASES[phase].prepare?.(state, conc);
	return true;
}

/** One isSubscribed on the object(s) behind `name`, for the cold-start probe. */
async function probeCall(env, { impl, name }) {
	if (impl === "noop") return env.NOOP.getByName(name).noop();
	if (impl === "agents") return agent(env, name).benchProbeCall();
	const { state } = await connected(env, impl, name);
	return state.isSubscribed("bench:C1:cold");
}

async function chat(env, { impl, name, count, conversation, seq }) {
	if (impl === "agents")
		return agent(env, name).benchChat({ count, conversation, seq });
	const { state, calls } = await connected(env, impl, name);
	calls.clear();
	const result = await chatMessages(state, { count, conversation, seq });
	return {
		...result,
		objectCalls: [...calls.values()].reduce((a, b) => a + b, 0),
	};
}

/**
 * The scale-out workload: `channels` concurrent callers, one per channel,
 * each sending `messages` messages over 4 threads. A message costs a dedupe
 * setIfNotExists, a history append, and a lock taken and released.
 */
async function scale(env, { routing, name, channels, messages, seq }) {
	const { state, calls } = await connected(env, "ours", name, routing);
	calls.clear();
	await Promise.all(
		Array.from({ length: channels }, async (_, ch) => {
			for (let m = 0; m < messages; m++) {
				const thread = `web:C${ch}:T${m % 4}`;
				await state.setIfNotExists(
					`dedupe:web:${seq}-${ch}-${m}`,
					true,
					600_000,
				);
				await state.appendToList(`msg-history:${thread}`, MESSAGE, {
					maxLength: 100,
					ttlMs: 604_800_000,
				});
				const lock = await state.acquireLock(thread, 30_000);
				if (lock) await state.releaseLock(lock);
			}
		}),
	);
	return { calls: Object.fromEntries(calls) };
}

async function alarmProbe(env, { impl, name, keys, ttlMs, gapMs }) {
	if (impl === "agents")
		return agent(env, name).benchAlarmProbe({ keys, ttlMs, gapMs });
	const { state } = await connected(env, impl, name);
	return alarmProbeWrites(state, { keys, ttlMs, gapMs });
}

const ENVELOPE = JSON.stringify({
	v: 1,
	op: "isSubscribed",
	args: { threadId: "bench:C1:T0" },
});

/**
 * One call taken apart, cheapest first: each variant adds one piece of what
 * an `isSubscribed` through our client does.
 */
export const ANATOMY = {
	noop: (env) => env.NOOP.getByName("anatomy").noop(),
	echo: (env) => env.NOOP.getByName("anatomy").echo(ENVELOPE),
	jsRead: (env) => env.NOOP.getByName("anatomy").read("k"),
	jsReadInTransaction: (env) =>
		env.NOOP.getByName("anatomy").readInTransaction("k"),
	originalRpc: (env) =>
		env.ORIGINAL.getByName("anatomy").isSubscribed("bench:C1:T0"),
	originalClient: async (env) =>
		(await connected(env, "original", "anatomy")).state.isSubscribed(
			"bench:C1:T0",
		),
	oursCall: (env) => env.OURS.getByName("anatomy").call(ENVELOPE),
	oursClient: async (env) =>
		(await connected(env, "ours", "anatomy")).state.isSubscribed("bench:C1:T0"),
	jsWrite: (env, i) => env.NOOP.getByName("anatomy").write(`k${i}`),
	jsWriteInTransaction: (env, i) =>
		env.NOOP.getByName("anatomy").writeInTransaction(`k${i}`),
	originalSubscribeRpc: (env, i) =>
		env.ORIGINAL.getByName("anatomy").subscribe(`bench:C1:A${i}`),
	oursSubscribeCall: (env, i) =>
		env.OURS.getByName("anatomy").call(
			JSON.stringify({
				v: 1,
				op: "subscribe",
				args: { threadId: `bench:C1:A${i}` },
			}),
		),
};

let anatomySeq = 0;

async function anatomy(env, { variant, n }) {
	for (let i = 0; i < n; i++) await ANATOMY[variant](env, anatomySeq++);
	return n;
}

const routes = {
	"/anatomy": anatomy,
	"/run": run,
	"/prepare": prepare,
	"/stats": (env, { impl, name }) => stats(env, impl, name),
	"/seed": (env, { impl, name, ...args }) => seed(env, impl, name, args),
	"/probe-call": probeCall,
	"/chat": chat,
	"/scale": scale,
	"/alarm-probe": alarmProbe,
	"/supports": async (env, { impl }) => {
		if (impl === "noop" || impl === "agents") return Object.keys(PHASES);
		const { state } = adapter(env, impl, "supports");
		return Object.keys(PHASES).filter((p) => supports(state, p));
	},
};

export default {
	async fetch(request, env) {
		const route = routes[new URL(request.url).pathname];
		if (!route) return new Response("not found", { status: 404 });
		try {
			const result = await route(env, await request.json());
			return Response.json({ ok: result ?? null });
		} catch (error) {
			return Response.json({ err: String(error?.stack ?? error) });
		}
	},
};
