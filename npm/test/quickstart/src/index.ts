// A Worker written as in the original package's quick start: only the
// package changed. Built by the tests with `wrangler deploy --dry-run`.

import { createWebAdapter } from "@chat-adapter/web";
import { Chat } from "chat";
import { ChatStateDO, createCloudflareState } from "chat-state-cloudflare-do";

// Re-export the Durable Object class so that Cloudflare can find it.
export { ChatStateDO };

interface Env {
	CHAT_STATE: DurableObjectNamespace<ChatStateDO>;
}

export default {
	async fetch(request: Request, env: Env): Promise<Response> {
		const bot = new Chat({
			userName: "my-bot",
			adapters: {
				web: createWebAdapter({
					userName: "my-bot",
					getUser: () => ({ id: "anonymous" }),
				}),
			},
			state: createCloudflareState({ namespace: env.CHAT_STATE }),
		});
		return bot.webhooks.web(request);
	},
};
