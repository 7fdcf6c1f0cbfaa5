// Bundles a test Worker with esbuild the way wrangler would, and runs it in
// the Workers runtime (miniflare 4, workerd) with ChatStateDO bound as
// CHAT_STATE on SQLite storage.

import { copyFileSync, mkdirSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";

const here = path.dirname(fileURLToPath(import.meta.url));
export const packageRoot = path.resolve(here, "..");

/** Bundles `entry` into test/.build/<name>/worker.js next to the wasm. */
export async function bundle(entry, name) {
	const out = path.join(here, ".build", name);
	mkdirSync(out, { recursive: true });
	copyFileSync(
		path.join(packageRoot, "wasm/index_bg.wasm"),
		path.join(out, "index_bg.wasm"),
	);
	await build({
		entryPoints: [entry],
		outfile: path.join(out, "worker.js"),
		bundle: true,
		format: "esm",
		platform: "neutral",
		target: "es2022",
		conditions: ["workerd", "worker", "browser"],
		mainFields: ["browser", "module", "main"],
		external: [
			"cloudflare:*",
			"*.wasm",
			...builtinModules,
			...builtinModules.map((m) => `node:${m}`),
		],
		logLevel: "error",
	});
	return out;
}

/** Starts the runtime on a bundle folder; returns the Miniflare instance. */
export async function start(folder, { persist = false, bindings = {} } = {}) {
	const mf = new Miniflare({
		modules: true,
		modulesRoot: folder,
		scriptPath: path.join(folder, "worker.js"),
		modulesRules: [
			{ type: "ESModule", include: ["**/*.js"] },
			{ type: "CompiledWasm", include: ["**/*.wasm"] },
		],
		compatibilityDate: "2026-02-24",
		compatibilityFlags: ["nodejs_compat"],
		durableObjects: {
			CHAT_STATE: { className: "ChatStateDO", useSQLite: true },
		},
		durableObjectsPersist: persist,
		bindings,
	});
	await mf.ready;
	return mf;
}
