// The Chat SDK `StateAdapter` over ChatStateDO. Each call is one RPC request
// carrying one protocol envelope to the object that owns its key.

import { ChatStateError, invalidArgument, notConnected } from "./errors.js";
import { Router } from "./routing.js";

const VERSION = 1;
/** Longest encoded value the object accepts, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 1_990_000;

const encoder = new TextEncoder();

function utf8Length(text) {
	// A UTF-16 unit encodes to 1 to 3 bytes, so most strings need no count.
	if (text.length > MAX_VALUE_BYTES || text.length * 3 <= MAX_VALUE_BYTES)
		return text.length;
	return encoder.encode(text).length;
}

/** JSON text of a value, or a clear error for what JSON cannot carry. */
function encode(method, key, value) {
	if (value === undefined) {
		throw invalidArgument(
			method,
			`the value for key ${JSON.stringify(key)} is undefined; store null instead`,
		);
	}
	let text;
	try {
		text = JSON.stringify(value);
	} catch (error) {
		throw invalidArgument(
			method,
			`the value for key ${JSON.stringify(key)} cannot be encoded as JSON: ${error.message}`,
		);
	}
	if (text === undefined) {
		throw invalidArgument(
			method,
			`the value for key ${JSON.stringify(key)} is a ${typeof value}, which JSON cannot carry`,
		);
	}
	const size = utf8Length(text);
	if (size > MAX_VALUE_BYTES) {
		throw new ChatStateError(
			"value_too_large",
			`${method}: value for key ${JSON.stringify(key.slice(0, 64))} is ${size} bytes, over the limit of ${MAX_VALUE_BYTES} bytes; store large payloads elsewhere and keep a reference here`,
		);
	}
	return text;
}

/** Stored text back to a value; text that is not JSON reads as itself. */
function decode(text) {
	if (text === null || text === undefined) return null;
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}

/**
 * A TTL for the wire: absent, null and NaN mean none; infinities are
 * refused (JSON would turn them into null, silently).
 */
function ttl(method, ttlMs) {
	if (ttlMs === undefined || ttlMs === null) return null;
	if (typeof ttlMs !== "number")
		throw invalidArgument(
			method,
			`ttlMs must be a number, got ${typeof ttlMs}`,
		);
	if (Number.isNaN(ttlMs)) return null;
	if (!Number.isFinite(ttlMs))
		throw invalidArgument(
			method,
			`ttlMs is ${ttlMs}; it must be a finite number of milliseconds`,
		);
	return ttlMs;
}

/** A list or queue bound: non-finite means unbounded (sent as null). */
function bound(method, name, value) {
	if (value === undefined || value === null) return null;
	if (typeof value !== "number")
		throw invalidArgument(
			method,
			`${name} must be a number, got ${typeof value}`,
		);
	return Number.isFinite(value) ? value : null;
}

function key(method, name, value) {
	if (typeof value !== "string")
		throw invalidArgument(
			method,
			`${name} must be a string, got ${typeof value}`,
		);
	return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Chat SDK state on SQLite-backed Durable Objects.
 *
 * Every failure is a rejected promise, never a synchronous throw.
 *
 * Concurrency: every call is atomic inside the object that owns its key. Of
 * many concurrent `acquireLock` or `setIfNotExists` calls on one free key,
 * exactly one wins; concurrent `dequeue` calls never return the same entry.
 */
export class CloudflareDOStateAdapter {
	#namespace;
	#router;
	#locationHint;
	#jurisdiction;
	#attempts;
	#baseDelayMs;
	#connected = false;

	constructor(options) {
		if (!options?.namespace) {
			throw new TypeError(
				"createCloudflareState: `namespace` is required; pass the Durable Object namespace bound to ChatStateDO, e.g. { namespace: env.CHAT_STATE }",
			);
		}
		this.#namespace = options.namespace;
		this.#router = new Router(options);
		this.#locationHint = options.locationHint;
		this.#jurisdiction = options.jurisdiction;
		this.#attempts = Math.max(1, options.retry?.attempts ?? 3);
		this.#baseDelayMs = options.retry?.baseDelayMs ?? 50;
	}

	/** The object name that owns a thread-scoped call or a key. */
	objectFor({ threadId, key: k }) {
		return threadId !== undefined
			? this.#router.thread(threadId)
			: this.#router.key(k);
	}

	#stub(name) {
		const namespace = this.#jurisdiction
			? this.#namespace.jurisdiction(this.#jurisdiction)
			: this.#namespace;
		const id = namespace.idFromName(name);
		return this.#locationHint
			? namespace.get(id, { locationHint: this.#locationHint })
			: namespace.get(id);
	}

	/**
	 * Sends one call. `safe` calls may be repeated after a transient platform
	 * error; overload is never retried. A fresh stub is made for each attempt.
	 */
	async #call(object, op, args, safe) {
		if (!this.#connected) throw notConnected();
		const request = JSON.stringify({ v: VERSION, op, args });
		for (let attempt = 1; ; attempt++) {
			let text;
			try {
				text = await this.#stub(object).call(request);
			} catch (error) {
				if (
					error instanceof TypeError &&
					/does not implement the method "call"/.test(error.message)
				) {
					throw new ChatStateError(
						"protocol",
						`the object ${JSON.stringify(object)} runs code that does not speak this package's protocol (an older ChatStateDO still deploying, or a rollback); deploy this package's ChatStateDO with this client`,
						{ cause: error },
					);
				}
				const again =
					safe &&
					error?.retryable === true &&
					error?.overloaded !== true &&
					attempt < this.#attempts;
				if (!again) throw error;
				await sleep(Math.random() * this.#baseDelayMs * 2 ** (attempt - 1));
				continue;
			}
			const reply = JSON.parse(text);
			if (reply.err) {
				if (reply.err.code === "unsupported_version") {
					throw new ChatStateError(
						"protocol",
						`the object speaks protocol versions ${reply.err.min} to ${reply.err.cur}, this client ${VERSION}; deploy one release on both sides: ${reply.err.message}`,
					);
				}
				throw new ChatStateError(reply.err.code, reply.err.message);
			}
			return reply.ok ?? null;
		}
	}

	#thread(method, threadId, op, args, safe) {
		key(method, "threadId", threadId);
		return this.#call(
			this.#router.thread(threadId),
			op,
			{ threadId, ...args },
			safe,
		);
	}

	#key(method, k, op, args, safe) {
		key(method, "key", k);
		return this.#call(this.#router.key(k), op, { key: k, ...args }, safe);
	}

	/** Validates the options; sends nothing. Objects migrate on their first call. */
	async connect() {
		this.#connected = true;
	}

	async disconnect() {
		this.#connected = false;
	}

	async subscribe(threadId) {
		await this.#thread("subscribe", threadId, "subscribe", {}, true);
	}

	async unsubscribe(threadId) {
		await this.#thread("unsubscribe", threadId, "unsubscribe", {}, true);
	}

	async isSubscribed(threadId) {
		return this.#thread("isSubscribed", threadId, "isSubscribed", {}, true);
	}

	async acquireLock(threadId, ttlMs) {
		const t = ttl("acquireLock", ttlMs);
		if (t === null) throw invalidArgument("acquireLock", "ttlMs is required");
		// The token is made here, so a repeat after a lost reply finds the
		// lease it took and returns it: the call becomes safe to retry.
		const token = crypto.randomUUID().replaceAll("-", "");
		return this.#thread(
			"acquireLock",
			threadId,
			"acquireLock",
			{ ttlMs: t, token },
			true,
		);
	}

	async releaseLock(lock) {
		await this.#thread(
			"releaseLock",
			lock?.threadId,
			"releaseLock",
			{ token: String(lock.token) },
			true,
		);
	}

	async extendLock(lock, ttlMs) {
		const t = ttl("extendLock", ttlMs);
		if (t === null) throw invalidArgument("extendLock", "ttlMs is required");
		// A repeat after a lost reply would only move the expiry a little; one
		// that frees the lock (ttl <= 0) could report false, so it is not retried.
		return this.#thread(
			"extendLock",
			lock?.threadId,
			"extendLock",
			{ token: String(lock.token), ttlMs: t },
			t > 0,
		);
	}

	async forceReleaseLock(threadId) {
		await this.#thread(
			"forceReleaseLock",
			threadId,
			"forceReleaseLock",
			{},
			true,
		);
	}

	async get(k) {
		return decode(await this.#key("get", k, "get", {}, true));
	}

	async set(k, value, ttlMs) {
		const args = { value: encode("set", k, value), ttlMs: ttl("set", ttlMs) };
		await this.#key("set", k, "set", args, true);
	}

	async setIfNotExists(k, value, ttlMs) {
		const args = {
			value: encode("setIfNotExists", k, value),
			ttlMs: ttl("setIfNotExists", ttlMs),
		};
		return this.#key("setIfNotExists", k, "setIfNotExists", args, false);
	}

	async delete(k) {
		await this.#key("delete", k, "delete", {}, true);
	}

	async appendToList(k, value, options = {}) {
		const args = {
			value: encode("appendToList", k, value),
			maxLength: bound("appendToList", "maxLength", options?.maxLength),
			ttlMs: ttl("appendToList", options?.ttlMs),
		};
		await this.#key("appendToList", k, "appendToList", args, false);
	}

	async getList(k) {
		const items = await this.#key("getList", k, "getList", {}, true);
		return (items ?? []).map(decode);
	}

	async enqueue(threadId, entry, maxSize) {
		const { enqueuedAt, expiresAt } = entry ?? {};
		if (!Number.isFinite(enqueuedAt) || !Number.isFinite(expiresAt)) {
			throw invalidArgument(
				"enqueue",
				"entry.enqueuedAt and entry.expiresAt must be finite numbers",
			);
		}
		const args = {
			entry: encode("enqueue", threadId, entry),
			enqueuedAt,
			expiresAt,
			maxSize: bound("enqueue", "maxSize", maxSize),
		};
		return this.#thread("enqueue", threadId, "enqueue", args, false);
	}

	async dequeue(threadId) {
		const text = await this.#thread("dequeue", threadId, "dequeue", {}, false);
		if (text === null) return null;
		try {
			return JSON.parse(text);
		} catch (cause) {
			throw new ChatStateError(
				"decode",
				`dequeue: the stored entry for key ${JSON.stringify(threadId)} is not valid JSON; it was removed`,
				{ cause },
			);
		}
	}

	async queueDepth(threadId) {
		return this.#thread("queueDepth", threadId, "queueDepth", {}, true);
	}
}

/** Creates the state adapter; pass it as `state` to `new Chat(...)`. */
export function createCloudflareState(options) {
	return new CloudflareDOStateAdapter(options);
}
