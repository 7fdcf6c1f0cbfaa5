// The Worker that the runtime tests load. It exposes the object over HTTP on
// loopback only, for the Rust test harness:
//   POST /do/<name>            one protocol envelope to the object <name>, by RPC
//   POST /fetch/<name>         the same, through the object's fetch door
//   POST /legacy/<name>        {"method", "args"}: a named RPC method of the
//                              original adapter's object, e.g. acquireLock
//   POST /pkg/<name>           {"method", "args"}: a StateAdapter method of the npm
//                              package's client, bound to the object <name>
//   GET  /rust-client/...      scenarios run by the Rust client inside the runtime
export { ChatStateDO } from "../../src/durable-object.js";

import { createCloudflareState } from "../../src/client.js";
import RustEntry from "../../wasm/index.js";

/** One package client per object name, kept so connect/disconnect stick. */
const adapters = new Map();

export default {
	async fetch(request, env, ctx) {
		const url = new URL(request.url);
		const [, door, ...rest] = url.pathname.split("/");
		const name = decodeURIComponent(rest.join("/"));
		if (door === "do" && request.method === "POST") {
			const reply = await env.CHAT_STATE.getByName(name).call(
				await request.text(),
			);
			return new Response(reply, {
				headers: { "content-type": "application/json" },
			});
		}
		if (door === "fetch" && request.method === "POST") {
			return env.CHAT_STATE.getByName(name).fetch("https://chat-state/call", {
				method: "POST",
				body: await request.text(),
			});
		}
		if (door === "legacy" && request.method === "POST") {
			const { method, args } = await request.json();
			try {
				const result = await env.CHAT_STATE.getByName(name)[method](...args);
				return Response.json({ result: result ?? null });
			} catch (error) {
				return Response.json({
					error: { code: error.code ?? null, message: String(error.message) },
				});
			}
		}
		if (door === "pkg" && request.method === "POST") {
			const { method, args } = await request.json();
			if (!adapters.has(name))
				adapters.set(
					name,
					createCloudflareState({ namespace: env.CHAT_STATE, name }),
				);
			try {
				const result = await adapters.get(name)[method](...args);
				return Response.json({ ok: result ?? null });
			} catch (error) {
				return Response.json({
					err: {
						code: error.code ?? "exception",
						message: String(error.message),
					},
				});
			}
		}
		if (door === "rust-client") {
			return new RustEntry(ctx, env).fetch(request);
		}
		return new Response("not found", { status: 404 });
	},
};
