import { DurableObject } from "cloudflare:workers";
import type { Lock, QueueEntry, StateAdapter } from "chat";

/**
 * The Durable Object that holds the state: export it from your Worker's
 * entry and bind it with a `new_sqlite_classes` migration.
 *
 * Every call is atomic inside the object: of many concurrent `acquireLock`
 * or `cacheSetIfNotExists` calls on one free key, exactly one wins.
 */
export declare class ChatStateDO<Env = unknown> extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env);
	/** One protocol request (JSON text) in, one reply (JSON text) out. */
	call(request: string): Promise<string>;
	fetch(request: Request): Promise<Response>;
	alarm(): Promise<void>;
	subscribe(threadId: string): Promise<void>;
	unsubscribe(threadId: string): Promise<void>;
	isSubscribed(threadId: string): Promise<boolean>;
	acquireLock(threadId: string, ttlMs: number): Promise<Lock | null>;
	releaseLock(threadId: string, token: string): Promise<void>;
	extendLock(threadId: string, token: string, ttlMs: number): Promise<boolean>;
	forceReleaseLock(threadId: string): Promise<void>;
	/** The stored JSON text, or null. */
	cacheGet(key: string): Promise<string | null>;
	/** `value` is JSON text. */
	cacheSet(key: string, value: string, ttlMs?: number): Promise<void>;
	cacheSetIfNotExists(
		key: string,
		value: string,
		ttlMs?: number,
	): Promise<boolean>;
	cacheDelete(key: string): Promise<void>;
	listAppend(
		key: string,
		value: string,
		maxLength?: number,
		ttlMs?: number,
	): Promise<void>;
	listGet(key: string): Promise<string[]>;
	/** `value` is the queue entry's JSON text. */
	enqueue(threadId: string, value: string, maxSize: number): Promise<number>;
	dequeue(threadId: string): Promise<string | null>;
	queueDepth(threadId: string): Promise<number>;
}

/** Options of {@link createCloudflareState}. */
export interface CloudflareStateOptions {
	/** The Durable Object namespace bound to `ChatStateDO`. Required. */
	namespace: DurableObjectNamespace<ChatStateDO>;
	/** The object that holds everything when no routing is set. Default `"default"`. */
	name?: string;
	/**
	 * Names the object of a thread: subscriptions, locks and queues of the
	 * thread go there, and so do the cache and list keys that carry its id
	 * (`thread-state:`, `channel-state:`, `msg-history:`, `transcripts:user:`).
	 * Other keys (dedupe marks and the like) are spread over `keyBuckets`
	 * hashed objects. Changing it moves data: treat it as part of the
	 * deployment's identity.
	 */
	shardKey?: (threadId: string) => string;
	/** Names the object of a cache or list key before the default rules; return nothing to fall back. */
	keyShard?: (key: string) => string | null | undefined;
	/** How many hashed objects hold keys without a thread id, once `shardKey` is set. Default 16. */
	keyBuckets?: number;
	/** Where new objects are placed. Only takes effect when an object is first created. */
	locationHint?: DurableObjectLocationHint;
	/** Keep the objects in a jurisdiction, e.g. `"eu"`. */
	jurisdiction?: DurableObjectJurisdiction;
	/** Attempts for calls that are safe to repeat after a transient error. Default 3 attempts, from 50 ms. */
	retry?: { attempts?: number; baseDelayMs?: number };
}

/** Chat SDK state on SQLite-backed Durable Objects. */
export declare class CloudflareDOStateAdapter implements StateAdapter {
	constructor(options: CloudflareStateOptions);
	/** The object name that owns a thread-scoped call or a key. */
	objectFor(target: { threadId: string } | { key: string }): string;
	connect(): Promise<void>;
	disconnect(): Promise<void>;
	subscribe(threadId: string): Promise<void>;
	unsubscribe(threadId: string): Promise<void>;
	isSubscribed(threadId: string): Promise<boolean>;
	acquireLock(threadId: string, ttlMs: number): Promise<Lock | null>;
	releaseLock(lock: Lock): Promise<void>;
	extendLock(lock: Lock, ttlMs: number): Promise<boolean>;
	forceReleaseLock(threadId: string): Promise<void>;
	get<T = unknown>(key: string): Promise<T | null>;
	set<T = unknown>(key: string, value: T, ttlMs?: number): Promise<void>;
	setIfNotExists(key: string, value: unknown, ttlMs?: number): Promise<boolean>;
	delete(key: string): Promise<void>;
	appendToList(
		key: string,
		value: unknown,
		options?: { maxLength?: number; ttlMs?: number },
	): Promise<void>;
	getList<T = unknown>(key: string): Promise<T[]>;
	enqueue(
		threadId: string,
		entry: QueueEntry,
		maxSize: number,
	): Promise<number>;
	dequeue(threadId: string): Promise<QueueEntry | null>;
	queueDepth(threadId: string): Promise<number>;
}

/** Creates the state adapter; pass it as `state` to `new Chat(...)`. */
export declare function createCloudflareState(
	options: CloudflareStateOptions,
): CloudflareDOStateAdapter;

/** An error of the state adapter, with a stable code such as `"value_too_large"`. */
export declare class ChatStateError extends Error {
	readonly code:
		| "not_connected"
		| "invalid_argument"
		| "value_too_large"
		| "decode"
		| "storage"
		| "protocol"
		| "unsupported_version"
		| "unsupported_op";
}

/** 32-bit FNV-1a over the UTF-8 bytes of `text`: the hash that spreads keys over objects. */
export declare function fnv1a32(text: string): number;
/** The first two `:`-separated segments of a thread id (one object per channel). */
export declare function byChannel(threadId: string): string;
/** Maps thread ids and keys to object names, as the adapter does. */
export declare class Router {
	constructor(
		options?: Pick<
			CloudflareStateOptions,
			"name" | "shardKey" | "keyShard" | "keyBuckets"
		>,
	);
	thread(threadId: string): string;
	key(key: string): string;
}
