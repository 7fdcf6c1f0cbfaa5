// The state inspector: what each Durable Object behind the bot holds.
//
// It is off unless the Worker runs in local development with the variable
// LOCAL_INSPECTOR set to "on" (scripts/run passes it to `wrangler dev`), or
// the request's `x-inspector-secret` header equals the INSPECTOR_SECRET
// secret. Otherwise the route answers 404. It only ever sends the read-only
// `inspect` host operation; nothing here forwards a request to an object.

const encoder = new TextEncoder();

/** Whether this request may see the inspector. */
export async function inspectorAllowed(request, env) {
	if (env.LOCAL_INSPECTOR === "on") return true;
	const secret = env.INSPECTOR_SECRET;
	const given = request.headers.get("x-inspector-secret");
	if (typeof secret !== "string" || secret === "" || !given) return false;
	// Compare digests, so the comparison takes the same time for any input.
	const [a, b] = await Promise.all(
		[secret, given].map((s) =>
			crypto.subtle.digest("SHA-256", encoder.encode(s)),
		),
	);
	return crypto.subtle.timingSafeEqual(a, b);
}

/** The `inspect` reply of one object, by name. */
async function inspectObject(env, name) {
	const stub = env.CHAT_STATE.get(env.CHAT_STATE.idFromName(name));
	const reply = JSON.parse(
		await stub.call(JSON.stringify({ v: 1, op: "inspect" })),
	);
	if (reply.err) throw new Error(`inspect ${name}: ${reply.err.message}`);
	return reply.ok;
}

/**
 * Every object the bot's state may use for this user's thread: the thread's
 * shard and the hashed key buckets, with their counts.
 */
export async function inspect({
	env,
	state,
	name,
	keyBuckets,
	threadId,
	messageId,
}) {
	const threadShard = state.objectFor({ threadId });
	const buckets = Array.from({ length: keyBuckets }, (_, i) => `${name}#k${i}`);
	const dedupeKey = messageId ? `dedupe:web:${messageId}` : null;
	const objects = [
		{ name: threadShard, role: "thread shard" },
		...buckets.map((b) => ({ name: b, role: "key bucket" })),
	];
	const reports = await Promise.all(
		objects.map((o) => inspectObject(env, o.name)),
	);
	await state.connect();
	const threadState = await state.get(`thread-state:${threadId}`);
	return {
		threadId,
		threadShard,
		keys: {
			threadState: {
				key: `thread-state:${threadId}`,
				object: state.objectFor({ key: `thread-state:${threadId}` }),
			},
			history: {
				key: `msg-history:${threadId}`,
				object: state.objectFor({ key: `msg-history:${threadId}` }),
			},
			dedupe: dedupeKey
				? { key: dedupeKey, object: state.objectFor({ key: dedupeKey }) }
				: null,
		},
		threadState,
		objects: objects.map((o, i) => {
			const r = reports[i];
			return {
				name: o.name,
				role: o.role,
				subscriptions: r.counts.subscriptions,
				locks: r.counts.locks,
				cacheKeys: r.counts.cacheKeys,
				lists: r.counts.lists,
				listRows: r.counts.listRows,
				queueEntries: r.counts.queueEntries,
				alarmAt: r.alarmAt ?? null,
				rowsRead: r.rowsRead,
				rowsWritten: r.rowsWritten,
				calls: r.calls,
			};
		}),
		now: Date.now(),
	};
}
