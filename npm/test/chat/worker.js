// A Worker written as a user of the package would write it: the package is
// imported by name, ChatStateDO is re-exported, and the Chat SDK runs with
// the web adapter. Handlers record what they saw so tests can assert on it.
import {
	byChannel,
	ChatStateDO,
	createCloudflareState,
} from "chat-state-cloudflare-do";

export { ChatStateDO };

/** What handlers did, in order, in this isolate. */
const events = [];
const bots = new Map();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function stateFor(env, config) {
	return createCloudflareState({
		namespace: env.CHAT_STATE,
		name: config.name,
		...(config.sharded ? { shardKey: byChannel } : {}),
	});
}

async function handle(kind, thread, message, context) {
	const text = message.text;
	events.push({
		at: Date.now(),
		phase: "start",
		kind,
		text,
		thread: thread.id,
		skipped: context?.skipped?.length ?? 0,
	});
	if (text.includes("subscribe")) await thread.subscribe();
	const state = (await thread.state) ?? {};
	await thread.setState({ count: (state.count ?? 0) + 1, last: text });
	const slow = /slow(\d+)/.exec(text);
	if (slow) await sleep(Number(slow[1]));
	await thread.post(`${kind}:${text}`);
	events.push({ at: Date.now(), phase: "end", kind, text, thread: thread.id });
}

async function bot(env, config) {
	const id = JSON.stringify(config);
	if (!bots.has(id)) {
		bots.set(
			id,
			(async () => {
				const { Chat } = await import("chat");
				const { createWebAdapter } = await import("@chat-adapter/web");
				const strategy = config.strategy ?? "drop";
				const chat = new Chat({
					userName: "bot",
					logger: "silent",
					adapters: {
						web: createWebAdapter({
							userName: "bot",
							getUser: (request) => ({
								id: request.headers.get("x-user") ?? "u1",
							}),
						}),
					},
					state: stateFor(env, config),
					concurrency: { strategy, debounceMs: 60 },
					...(config.force ? { onLockConflict: "force" } : {}),
				});
				chat.onNewMention((thread, message, context) =>
					handle("mention", thread, message, context),
				);
				chat.onSubscribedMessage((thread, message, context) =>
					handle("subscribed", thread, message, context),
				);
				return chat;
			})(),
		);
	}
	return bots.get(id);
}

export default {
	async fetch(request, env) {
		const url = new URL(request.url);
		const config = JSON.parse(url.searchParams.get("config") ?? "{}");
		switch (url.pathname) {
			case "/chat": {
				const chat = await bot(env, config);
				return chat.webhooks.web(request);
			}
			case "/events":
				return Response.json(events);
			case "/state/get":
				return Response.json(
					await withState(env, config, (s) =>
						s.get(url.searchParams.get("key")),
					),
				);
			case "/state/list":
				return Response.json(
					await withState(env, config, (s) =>
						s.getList(url.searchParams.get("key")),
					),
				);
			case "/state/object":
				return Response.json(
					stateFor(env, config).objectFor({ key: url.searchParams.get("key") }),
				);
			default:
				return new Response("not found", { status: 404 });
		}
	},
};

async function withState(env, config, f) {
	const state = stateFor(env, config);
	await state.connect();
	return f(state);
}
