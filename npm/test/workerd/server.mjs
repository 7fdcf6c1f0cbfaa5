// Starts the Workers runtime (miniflare 4, real workerd) on 127.0.0.1 with the
// test Worker and SQLite-backed Durable Objects persisted under a folder.
// Prints one line, `listening <url>`, then serves until killed.
//
//   node server.mjs --port 0 --persist <dir> [--alarm-window-ms N]

import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const args = Object.fromEntries(
	process.argv.slice(2).reduce((pairs, arg, i, all) => {
		if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
		return pairs;
	}, []),
);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

const mf = new Miniflare({
	host: "127.0.0.1",
	port: Number(args.port ?? 0),
	modules: true,
	modulesRoot: root,
	scriptPath: path.join(here, "worker.js"),
	modulesRules: [
		{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
		{ type: "CompiledWasm", include: ["**/*.wasm"] },
	],
	compatibilityDate: "2026-02-24",
	compatibilityFlags: ["nodejs_compat"],
	durableObjects: { CHAT_STATE: { className: "ChatStateDO", useSQLite: true } },
	durableObjectsPersist: args.persist ?? false,
	bindings: {
		CHAT_STATE_TEST_HOOKS: "1",
		CHAT_STATE_ALARM_WINDOW_MS: String(args["alarm-window-ms"] ?? 60000),
	},
});
const url = await mf.ready;
console.log(`listening ${url.href}`);

const stop = async () => {
	await mf.dispose();
	process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Stop with the process that started us: it holds our standard input.
process.stdin.on("end", stop);
process.stdin.resume();
