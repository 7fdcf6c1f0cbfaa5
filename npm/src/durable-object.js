// The Durable Object class that Workers bind as `ChatStateDO`.
//
// The engine is Rust compiled to wasm. The runtime only accepts RPC into a
// class that extends `DurableObject`, so this class holds the wasm object and
// forwards to it: `call` takes one protocol envelope and returns the reply,
// `fetch` takes the same envelope as a POST body, and `alarm` runs the
// cleanup. The named methods below keep the RPC surface of the original
// TypeScript adapter, so a Worker still running that adapter's client keeps
// working against this object while a deploy rolls out.

import { DurableObject } from "cloudflare:workers";
import { ChatStateDO as WasmChatStateDO } from "../wasm/index.js";
import { ChatStateError } from "./errors.js";

const VERSION = 1;

export class ChatStateDO extends DurableObject {
	#engine;

	constructor(ctx, env) {
		super(ctx, env);
		this.#engine = new WasmChatStateDO(ctx, env);
	}

	/** One protocol request (JSON text) in, one reply (JSON text) out. */
	call(request) {
		return this.#engine.call(request);
	}

	fetch(request) {
		return this.#engine.fetch(request);
	}

	alarm() {
		return this.#engine.alarm();
	}

	async #op(op, args) {
		const reply = JSON.parse(
			await this.#engine.call(JSON.stringify({ v: VERSION, op, args })),
		);
		// RPC carries only an error's message across, so the code leads it.
		if (reply.err)
			throw new ChatStateError(
				reply.err.code,
				`[${reply.err.code}] ${reply.err.message}`,
			);
		return reply.ok ?? null;
	}

	subscribe(threadId) {
		return this.#op("subscribe", { threadId });
	}

	unsubscribe(threadId) {
		return this.#op("unsubscribe", { threadId });
	}

	isSubscribed(threadId) {
		return this.#op("isSubscribed", { threadId });
	}

	acquireLock(threadId, ttlMs) {
		return this.#op("acquireLock", { threadId, ttlMs });
	}

	releaseLock(threadId, token) {
		return this.#op("releaseLock", { threadId, token });
	}

	extendLock(threadId, token, ttlMs) {
		return this.#op("extendLock", { threadId, token, ttlMs });
	}

	forceReleaseLock(threadId) {
		return this.#op("forceReleaseLock", { threadId });
	}

	/** Resolves to the stored JSON text, or null. */
	cacheGet(key) {
		return this.#op("get", { key });
	}

	/** `value` is JSON text. */
	cacheSet(key, value, ttlMs) {
		return this.#op("set", { key, value, ttlMs });
	}

	cacheSetIfNotExists(key, value, ttlMs) {
		return this.#op("setIfNotExists", { key, value, ttlMs });
	}

	cacheDelete(key) {
		return this.#op("delete", { key });
	}

	listAppend(key, value, maxLength, ttlMs) {
		return this.#op("appendToList", { key, value, maxLength, ttlMs });
	}

	listGet(key) {
		return this.#op("getList", { key });
	}

	/** `value` is the queue entry's JSON text; its times are read from it. */
	enqueue(threadId, value, maxSize) {
		const entry = JSON.parse(value);
		return this.#op("enqueue", {
			threadId,
			entry: value,
			enqueuedAt: entry.enqueuedAt,
			expiresAt: entry.expiresAt,
			maxSize,
		});
	}

	dequeue(threadId) {
		return this.#op("dequeue", { threadId });
	}

	queueDepth(threadId) {
		return this.#op("queueDepth", { threadId });
	}
}
