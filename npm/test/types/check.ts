// Compiles only if the package's types fit the Chat SDK's: the adapter is a
// `StateAdapter`, and `ChatStateDO` types a namespace binding.
import { Chat, type StateAdapter } from "chat";
import {
	byChannel,
	ChatStateDO,
	createCloudflareState,
} from "chat-state-cloudflare-do";

export { ChatStateDO };

interface Env {
	CHAT_STATE: DurableObjectNamespace<ChatStateDO>;
}

export function plain(env: Env): StateAdapter {
	return createCloudflareState({ namespace: env.CHAT_STATE });
}

export function sharded(env: Env): StateAdapter {
	return createCloudflareState({
		namespace: env.CHAT_STATE,
		name: "bot",
		shardKey: byChannel,
		keyShard: (key) => (key.startsWith("telegram:") ? "telegram" : undefined),
		keyBuckets: 32,
		locationHint: "weur",
		jurisdiction: "eu",
	});
}

export function bot(env: Env): Chat {
	return new Chat({ userName: "bot", adapters: {}, state: plain(env) });
}
