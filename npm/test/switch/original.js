// A bot on the original TypeScript package (0.1.1), writing state the way
// it always has.
import {
	ChatStateDO,
	createCloudflareState,
} from "chat-state-cloudflare-do-original";

export { ChatStateDO };

export default {
	async fetch(_request, env) {
		const state = createCloudflareState({ namespace: env.CHAT_STATE });
		await state.connect();
		await state.subscribe("slack:C1:T1");
		const lock = await state.acquireLock("slack:C1:T1", 600_000);
		await state.set("thread-state:slack:C1:T1", { count: 3, name: "Ada" });
		await state.set("dedupe:slack:m1", true, 600_000);
		await state.set("short-lived", "gone", 1);
		return Response.json({ lock });
	},
};
