// A Worker already on this package talking to an object still running the
// original package's code (a deploy in flight, or a rollback).

import { createCloudflareState } from "chat-state-cloudflare-do";
import { ChatStateDO } from "chat-state-cloudflare-do-original";

export { ChatStateDO };

export default {
	async fetch(_request, env) {
		const state = createCloudflareState({ namespace: env.CHAT_STATE });
		await state.connect();
		try {
			await state.isSubscribed("slack:C1:T1");
			return Response.json({ ok: true });
		} catch (error) {
			return Response.json({
				code: error.code ?? null,
				name: error.name,
				message: error.message,
			});
		}
	},
};
