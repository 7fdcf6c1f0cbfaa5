// The same bot after switching to this package: same binding, same class
// name, same object. It reads what the original wrote.
import { ChatStateDO, createCloudflareState } from "chat-state-cloudflare-do";

export { ChatStateDO };

export default {
	async fetch(request, env) {
		const { lock } = await request.json();
		const state = createCloudflareState({ namespace: env.CHAT_STATE });
		await state.connect();
		const read = {
			subscribed: await state.isSubscribed("slack:C1:T1"),
			lockTaken: (await state.acquireLock("slack:C1:T1", 1_000)) === null,
			threadState: await state.get("thread-state:slack:C1:T1"),
			dedupeBlocks: !(await state.setIfNotExists(
				"dedupe:slack:m1",
				true,
				600_000,
			)),
			shortLived: await state.get("short-lived"),
			extended: await state.extendLock(lock, 600_000),
		};
		await state.releaseLock(lock);
		read.freeAfterRelease =
			(await state.acquireLock("slack:C1:T1", 1_000)) !== null;
		return Response.json(read);
	},
};
