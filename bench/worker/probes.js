// Probes that run the same way on every implementation: the alarm probe's
// writes and messages through a real Chat.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `keys` writes with a short TTL, `gapMs` apart, as the alarm probe makes them. */
export async function alarmProbeWrites(state, { keys, ttlMs, gapMs }) {
	for (let i = 0; i < keys; i++) {
		await state.set(`alarm-probe:${i}`, true, ttlMs);
		await sleep(gapMs);
	}
	return keys;
}

/** A StateAdapter that counts its calls by method into `counts`. */
function countingAdapter(state, counts) {
	return new Proxy(state, {
		get(target, prop) {
			const value = target[prop];
			if (typeof value !== "function") return value;
			return (...args) => {
				counts[prop] = (counts[prop] ?? 0) + 1;
				return value.apply(target, args);
			};
		},
	});
}

/** An error, or a log record holding one, as one line. */
function describe(value) {
	const error = value?.error ?? value;
	if (error?.message) return `${error.name ?? "Error"}: ${error.message}`;
	return typeof value === "object" ? JSON.stringify(value) : String(value);
}

const chats = new WeakMap();

/** A Chat with the web adapter and the `drop` strategy over `state`. */
async function chatFor(state) {
	if (!chats.has(state)) {
		const errors = [];
		const handled = new Set();
		const counts = {};
		const logger = {
			child: () => logger,
			debug() {},
			info() {},
			warn() {},
			error: (message, ...args) =>
				errors.push([message, ...args.map(describe)].join(": ")),
		};
		const { Chat } = await import("chat");
		const { createWebAdapter } = await import("@chat-adapter/web");
		const chat = new Chat({
			userName: "bot",
			logger,
			adapters: {
				web: createWebAdapter({
					userName: "bot",
					getUser: () => ({ id: "u1" }),
				}),
			},
			state: countingAdapter(state, counts),
			concurrency: { strategy: "drop" },
		});
		const handler = async (_thread, message) => {
			handled.add(message.id);
		};
		chat.onNewMention(handler);
		chat.onDirectMessage?.(handler);
		chat.onSubscribedMessage(handler);
		chats.set(state, { chat, errors, handled, counts });
	}
	return chats.get(state);
}

/**
 * Sends `count` messages, one after the other, each a new message in one
 * conversation, and reads every reply to its end. Returns how many reached a
 * handler, the adapter calls by method, and the errors the Chat logged.
 */
export async function chatMessages(state, { count, conversation, seq }) {
	const { chat, errors, handled, counts } = await chatFor(state);
	errors.length = 0;
	handled.clear();
	for (const k of Object.keys(counts)) delete counts[k];
	for (let i = 0; i < count; i++) {
		const body = {
			id: conversation,
			messages: [
				{
					id: `m-${seq}-${i}`,
					role: "user",
					parts: [{ type: "text", text: `hello ${i}` }],
				},
			],
		};
		try {
			const response = await chat.webhooks.web(
				new Request("https://bench.invalid/chat", {
					method: "POST",
					headers: { "content-type": "application/json" },
					body: JSON.stringify(body),
				}),
			);
			await response.text();
		} catch (error) {
			errors.push(error?.message ?? String(error));
		}
	}
	return {
		messages: count,
		handled: handled.size,
		adapterCalls: { ...counts },
		errors: [...new Set(errors)].slice(0, 3),
	};
}
