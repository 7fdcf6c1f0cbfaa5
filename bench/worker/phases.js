// The benchmark's phases: the same StateAdapter calls for every
// implementation. A batch runs `n` operations split over `conc` callers;
// caller c works on its own thread `bench:C1:T<c>`, so concurrent callers
// never contend for one lock or queue.

/** A message of the size the Chat SDK keeps in history (about 400 bytes). */
export const MESSAGE = {
	id: "msg-0000000000",
	threadId: "web:u1:conversation-0001",
	text: "Can you summarise what we agreed on yesterday about the launch checklist?",
	author: {
		userId: "u1",
		userName: "ada",
		fullName: "Ada Lovelace",
		isBot: false,
		isMe: false,
	},
	metadata: { dateSent: "2026-01-01T00:00:00.000Z", edited: false },
	attachments: [],
	formatted: { type: "root", children: [] },
	raw: null,
};

const TTL_10_MIN = 600_000;
const TTL_7_DAYS = 604_800_000;
const LOCK_TTL = 30_000;

const thread = (c) => `bench:C1:T${c}`;
const historyKey = (c) => `msg-history:bench:C1:T${c}`;

function check(condition, what) {
	if (!condition) throw new Error(`unexpected result: ${what}`);
}

/**
 * Each phase: `calls` is the number of DO calls one operation makes, `needs`
 * the StateAdapter methods it uses, `prepare(state, conc)` sets up what reads
 * need, `op(state, caller, i, seq)` is one operation.
 */
export const PHASES = {
	lock: {
		title: "acquireLock + releaseLock",
		calls: 2,
		needs: ["acquireLock", "releaseLock"],
		async op(s, c) {
			const lock = await s.acquireLock(thread(c), LOCK_TTL);
			check(lock, "acquireLock on a free thread returned null");
			await s.releaseLock(lock);
		},
	},
	set: {
		title: "set with TTL",
		calls: 1,
		needs: ["set"],
		op: (s, c, i) => s.set(`bench:set:${c}:${i % 1000}`, MESSAGE, TTL_10_MIN),
	},
	get: {
		title: "get (hit)",
		calls: 1,
		needs: ["get", "set"],
		async prepare(s, conc) {
			for (let c = 0; c < conc; c++)
				for (let i = 0; i < 100; i++)
					await s.set(`bench:get:${c}:${i}`, MESSAGE, TTL_10_MIN);
		},
		async op(s, c, i) {
			check((await s.get(`bench:get:${c}:${i % 100}`)) !== null, "get missed");
		},
	},
	setIfNotExists: {
		title: "setIfNotExists with TTL (new key)",
		calls: 1,
		needs: ["setIfNotExists"],
		async op(s, c, i, seq) {
			const fresh = await s.setIfNotExists(
				`dedupe:bench:${seq}:${c}:${i}`,
				true,
				TTL_10_MIN,
			);
			check(fresh === true, "setIfNotExists on a new key returned false");
		},
	},
	queue: {
		title: "enqueue + dequeue",
		calls: 2,
		needs: ["enqueue", "dequeue"],
		async op(s, c) {
			const now = Date.now();
			const entry = {
				message: MESSAGE,
				enqueuedAt: now,
				expiresAt: now + 90_000,
			};
			await s.enqueue(thread(c), entry, 10);
			check((await s.dequeue(thread(c))) !== null, "dequeue returned null");
		},
	},
	append: {
		title: "appendToList (maxLength 50, TTL), full list",
		calls: 1,
		needs: ["appendToList"],
		async prepare(s, conc) {
			for (let c = 0; c < conc; c++)
				for (let i = 0; i < 50; i++)
					await s.appendToList(historyKey(c), MESSAGE, {
						maxLength: 50,
						ttlMs: TTL_7_DAYS,
					});
		},
		op: (s, c) =>
			s.appendToList(historyKey(c), MESSAGE, {
				maxLength: 50,
				ttlMs: TTL_7_DAYS,
			}),
	},
	getList: {
		title: "getList of 50",
		calls: 1,
		needs: ["getList", "appendToList"],
		async prepare(s, conc) {
			await PHASES.append.prepare(s, conc);
		},
		async op(s, c) {
			check(
				(await s.getList(historyKey(c))).length === 50,
				"list is not 50 long",
			);
		},
	},
	subscribe: {
		title: "subscribe (new thread)",
		calls: 1,
		needs: ["subscribe"],
		op: (s, c, i, seq) => s.subscribe(`bench:C1:S${seq}-${c}-${i}`),
	},
	isSubscribed: {
		title: "isSubscribed (hit)",
		calls: 1,
		needs: ["isSubscribed", "subscribe"],
		async prepare(s, conc) {
			for (let c = 0; c < conc; c++) await s.subscribe(thread(c));
		},
		async op(s, c) {
			check(await s.isSubscribed(thread(c)), "isSubscribed returned false");
		},
	},
};

/** Whether a state adapter has every method a phase needs. */
export function supports(state, phase) {
	return PHASES[phase].needs.every((m) => typeof state[m] === "function");
}

/** Runs `n` operations of a phase over `conc` concurrent callers. */
export async function runBatch(state, { phase, n, conc, seq }) {
	const p = PHASES[phase];
	const per = Math.max(1, Math.ceil(n / conc));
	await Promise.all(
		Array.from({ length: conc }, async (_, c) => {
			for (let i = 0; i < per; i++) await p.op(state, c, i, seq);
		}),
	);
	return per * conc;
}

/**
 * The runtime's limit: `calls` RPCs per operation to a method that does
 * nothing, each on a fresh stub as the adapters make them.
 */
export async function runNoopBatch(stub, { phase, n, conc }) {
	const calls = PHASES[phase]?.calls ?? 1;
	const per = Math.max(1, Math.ceil(n / conc));
	await Promise.all(
		Array.from({ length: conc }, async () => {
			for (let i = 0; i < per; i++)
				for (let k = 0; k < calls; k++) await stub().noop();
		}),
	);
	return per * conc;
}
