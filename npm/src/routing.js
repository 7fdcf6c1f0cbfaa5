// Which Durable Object owns a call. The same rules as the Rust client
// (chat_state::routing), so TypeScript and Rust Workers agree on placement.

/** Key prefixes whose remainder is a thread or channel id. */
export const THREAD_PREFIXES = [
	"thread-state:",
	"channel-state:",
	"msg-history:",
	"transcripts:user:",
];

/** Default number of hashed objects for keys that carry no thread id. */
export const DEFAULT_KEY_BUCKETS = 16;

const encoder = new TextEncoder();

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
export function fnv1a32(text) {
	let hash = 0x811c9dc5;
	for (const byte of encoder.encode(text)) {
		hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
	}
	return hash >>> 0;
}

/** The first two `:`-separated segments of a thread id: one object per channel. */
export function byChannel(threadId) {
	const parts = threadId.split(":");
	return parts.length >= 2 ? `${parts[0]}:${parts[1]}` : threadId;
}

/** Maps thread ids and keys to object names. */
export class Router {
	constructor({
		name = "default",
		shardKey,
		keyShard,
		keyBuckets = DEFAULT_KEY_BUCKETS,
	} = {}) {
		if (!Number.isInteger(keyBuckets) || keyBuckets < 1) {
			throw new TypeError(
				`keyBuckets must be a positive integer, got ${keyBuckets}`,
			);
		}
		this.name = name === "" ? "default" : String(name);
		this.shardKey = shardKey;
		this.keyShard = keyShard;
		this.keyBuckets = keyBuckets;
	}

	/** The object of a thread-scoped call (subscriptions, locks, queues). */
	thread(threadId) {
		return this.shardKey ? String(this.shardKey(threadId)) : this.name;
	}

	/** The object of a cache or list key. */
	key(key) {
		const custom = this.keyShard?.(key);
		if (custom !== undefined && custom !== null) return String(custom);
		if (!this.shardKey) return this.name;
		for (const prefix of THREAD_PREFIXES) {
			if (key.startsWith(prefix)) return this.thread(key.slice(prefix.length));
		}
		return `${this.name}#k${fnv1a32(key) % this.keyBuckets}`;
	}
}
