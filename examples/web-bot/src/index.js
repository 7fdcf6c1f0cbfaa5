// A web chat bot on the Chat SDK whose state lives in ChatStateDO.
//
//   GET  /              the chat page (sets the `chat_user` cookie)
//   POST /api/chat      the web adapter: chat.webhooks.web(request)
//   GET  /api/history   this user's conversation, read from the state
//   GET  /api/inspect   the state inspector (local development, or with the
//                       INSPECTOR_SECRET secret); 404 otherwise
//
// The Durable Object is exported for the runtime but never reachable from
// outside: no route forwards a request to it.
import {
	byChannel,
	ChatStateDO,
	createCloudflareState,
} from "chat-state-cloudflare-do";
import { createBot, USER_COOKIE, userFrom } from "./bot.js";
import { inspect, inspectorAllowed } from "./inspector.js";
import page from "./page.html";

// Re-export the Durable Object class so that Cloudflare can find it.
export { ChatStateDO };

/** The base name of the objects: `bot#k0`..`bot#k15` hold keys without a thread. */
const NAME = "bot";
const KEY_BUCKETS = 16;

/** One channel per object (`web:<user>`); other keys hashed over 16 buckets. */
function stateFor(env) {
	return createCloudflareState({
		namespace: env.CHAT_STATE,
		name: NAME,
		shardKey: byChannel,
		keyBuckets: KEY_BUCKETS,
	});
}

let bot;
function botFor(env) {
	bot ??= createBot(stateFor(env)).catch((error) => {
		bot = undefined;
		throw error;
	});
	return bot;
}

const CONVERSATION = /^[A-Za-z0-9_-]{1,64}$/;
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function threadOf(request, url) {
	const user = userFrom(request);
	const conversation = url.searchParams.get("conversation") ?? "";
	if (!user || !CONVERSATION.test(conversation)) return null;
	return `web:${user}:${conversation}`;
}

const notFound = () => new Response("not found", { status: 404 });

function servePage(request) {
	const headers = {
		"content-type": "text/html; charset=utf-8",
		"cache-control": "no-store",
		"x-content-type-options": "nosniff",
		"referrer-policy": "no-referrer",
	};
	if (!userFrom(request)) {
		// A random id per browser; a real bot would take it from its login.
		const id = crypto.randomUUID().replaceAll("-", "");
		headers["set-cookie"] =
			`${USER_COOKIE}=${id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict`;
	}
	return new Response(page, { headers });
}

export default {
	async fetch(request, env) {
		const url = new URL(request.url);
		const route = `${request.method} ${url.pathname}`;
		switch (route) {
			case "GET /":
				return servePage(request);
			case "POST /api/chat": {
				const chat = await botFor(env);
				return chat.webhooks.web(request);
			}
			case "GET /api/history": {
				const threadId = threadOf(request, url);
				if (!threadId)
					return Response.json(
						{ error: "no user or conversation" },
						{ status: 400 },
					);
				const state = stateFor(env);
				await state.connect();
				const kept = await state.getList(`msg-history:${threadId}`);
				return Response.json({
					threadId,
					messages: kept.map((m) => ({
						id: m.id,
						role: m.author?.isMe ? "bot" : "you",
						text: m.text,
						at: m.metadata?.dateSent,
					})),
				});
			}
			case "GET /api/inspect": {
				if (!(await inspectorAllowed(request, env))) return notFound();
				const threadId = threadOf(request, url);
				if (!threadId)
					return Response.json(
						{ error: "no user or conversation" },
						{ status: 400 },
					);
				const report = await inspect({
					env,
					state: stateFor(env),
					name: NAME,
					keyBuckets: KEY_BUCKETS,
					threadId,
					messageId: MESSAGE_ID.test(url.searchParams.get("message") ?? "")
						? url.searchParams.get("message")
						: null,
				});
				return Response.json(report, {
					headers: { "cache-control": "no-store" },
				});
			}
			default:
				return notFound();
		}
	},
};
