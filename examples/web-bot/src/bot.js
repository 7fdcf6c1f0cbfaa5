// The bot: a Chat SDK `Chat` with the web adapter, its state in ChatStateDO.
//
// What it keeps, all in the state adapter:
// - the subscription of each conversation (taken on the first message, so
//   later messages arrive through `onSubscribedMessage`);
// - per-thread state (`thread.state`): the facts you told it and a message
//   count;
// - the message history (the web adapter persists it by default), read back
//   through `thread.messages`;
// - dedupe marks: a message id seen before is dropped before any handler runs.

/** The user of a request: the random id in the `chat_user` cookie. */
export const USER_COOKIE = "chat_user";
const USER_ID = /^[A-Za-z0-9_-]{8,64}$/;

export function userFrom(request) {
	const cookies = request.headers.get("cookie") ?? "";
	for (const part of cookies.split(";")) {
		const [name, ...rest] = part.trim().split("=");
		if (name === USER_COOKIE) {
			const value = rest.join("=");
			return USER_ID.test(value) ? value : null;
		}
	}
	return null;
}

const HELP = [
	"Things I understand:",
	"• remember my name is Ada — I keep facts in this conversation's state",
	"• what is my name? — I answer from that state",
	"• what do you know? — every fact you told me",
	"• forget my name / forget everything",
	"• history — the messages kept in the state's history list",
	"• count — how many messages I have handled here",
].join("\n");

/**
 * What the bot understands: a pattern, and what it does with the thread's
 * facts (which it may change) and the message count. First match wins.
 */
const COMMANDS = [
	[
		/^remember (?:that )?my (.+?) (?:is|are) (.+?)[.!]?$/i,
		({ facts }, [, name, value]) => {
			const key = name.toLowerCase();
			facts[key] = value;
			return `Got it: your ${key} is ${value}. I keep that in this conversation's state.`;
		},
	],
	[
		/^remember (?:that )?(.+?)[.!]?$/i,
		({ facts }, [, note]) => {
			facts[`note ${Object.keys(facts).length + 1}`] = note;
			return `Noted: ${note}.`;
		},
	],
	[
		/^(?:what(?:'s| is| are)|whats|do you know) my (.+?)\??$/i,
		({ facts }, [, name]) => {
			const key = name.toLowerCase();
			return key in facts
				? `Your ${key} is ${facts[key]}.`
				: `You haven't told me your ${key} yet. Say "remember my ${key} is ...".`;
		},
	],
	[
		/^(?:what do you know(?: about me)?|who am i|facts)\??$/i,
		({ facts }) => {
			const known = Object.entries(facts);
			return known.length
				? `What I know in this conversation:\n${known.map(([k, v]) => `• ${k}: ${v}`).join("\n")}`
				: "Nothing yet. Tell me something: remember my name is Ada.";
		},
	],
	[
		/^forget everything[.!]?$/i,
		({ facts }) => {
			for (const key of Object.keys(facts)) delete facts[key];
			return "Forgotten: everything.";
		},
	],
	[
		/^forget (?:my )?(.+?)[.!]?$/i,
		({ facts }, [, name]) => {
			const key = name.toLowerCase();
			const known = key in facts;
			delete facts[key];
			return known ? `Forgotten: your ${key}.` : `I didn't know your ${key}.`;
		},
	],
	[/^history\??$/i, ({ thread }) => historyOf(thread)],
	[
		/^(?:count|how many messages)/i,
		({ count }) =>
			`You have sent me ${count} message${count === 1 ? "" : "s"} in this conversation (retries not counted).`,
	],
	[/^(?:help|\?)$/i, () => HELP],
	[
		/^/,
		({ text }) =>
			`You said: "${text}". Try "remember my name is Ada", "history" or "help".`,
	],
];

/**
 * Handles one message of a thread: reads the thread state, answers, writes
 * the state back. `via` names the Chat SDK handler that delivered it.
 */
async function answer(thread, message, via) {
	const state = (await thread.state) ?? {};
	const context = {
		thread,
		text: message.text.trim(),
		count: (state.count ?? 0) + 1,
		facts: { ...(state.facts ?? {}) },
	};
	let reply = "";
	for (const [pattern, run] of COMMANDS) {
		const match = pattern.exec(context.text);
		if (match) {
			reply = await run(context, match);
			break;
		}
	}
	if (via === "onNewMention") {
		await thread.subscribe();
		reply = `Hello! I subscribed to this conversation, so your next messages reach me through onSubscribedMessage.\n\n${reply}`;
	}
	const { count, facts } = context;
	await thread.setState({ count, facts }, { replace: true });
	await thread.post(
		`${reply}\n\n— message ${count} in this conversation · ${via}`,
	);
}

/** The thread's kept messages, oldest first (`thread.messages` is newest first). */
async function historyOf(thread) {
	const newestFirst = [];
	for await (const m of thread.messages) {
		newestFirst.push(m);
		if (newestFirst.length === 20) break;
	}
	const lines = newestFirst.reverse().map((m, i) => {
		const who = m.author.isMe ? "bot" : "you";
		const first = m.text.split("\n")[0];
		return `${i + 1}. ${who}: ${first.length > 70 ? `${first.slice(0, 69)}…` : first}`;
	});
	return `The last ${lines.length} messages kept in this conversation's history:\n${lines.join("\n")}`;
}

/**
 * Creates the bot. `chat` and the web adapter are loaded on first use: the
 * `chat` package creates an AbortController at module load, which the
 * Workers runtime refuses outside a request.
 */
export async function createBot(state) {
	const { Chat } = await import("chat");
	const { createWebAdapter } = await import("@chat-adapter/web");
	const chat = new Chat({
		userName: "state-bot",
		logger: "warn",
		adapters: {
			web: createWebAdapter({
				userName: "state-bot",
				getUser: (request) => {
					const id = userFrom(request);
					return id ? { id } : null;
				},
			}),
		},
		state,
	});
	// Web conversations are direct messages: the first message of an
	// unsubscribed thread arrives as a mention.
	chat.onNewMention((thread, message) =>
		answer(thread, message, "onNewMention"),
	);
	chat.onSubscribedMessage((thread, message) =>
		answer(thread, message, "onSubscribedMessage"),
	);
	return chat;
}
