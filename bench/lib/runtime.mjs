// Bundles the benchmark Worker the way wrangler would (esbuild) and runs it in
// the Workers runtime (miniflare 4, workerd) with SQLite-backed objects.

import { copyFileSync, mkdirSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const benchRoot = path.resolve(here, "..");
export const repoRoot = path.resolve(benchRoot, "..");
export const wasmDir = process.env.BENCH_WASM_DIR
	? path.resolve(process.env.BENCH_WASM_DIR)
	: path.join(benchRoot, ".build/wasm");

// miniflare and esbuild are the npm package's own, so both use one workerd.
const npmRequire = createRequire(path.join(repoRoot, "npm/package.json"));
const load = (name) => import(pathToFileURL(npmRequire.resolve(name)).href);
export const { Miniflare } = await load("miniflare");
const { build } = await load("esbuild");

/**
 * The package under test is `npm/src`, imported by its name; its engine is
 * the release wasm built for the benchmark, not whatever npm/wasm holds.
 */
const packageUnderTest = {
	name: "package-under-test",
	setup(b) {
		b.onResolve({ filter: /^chat-state-cloudflare-do$/ }, () => ({
			path: path.join(repoRoot, "npm/src/index.js"),
		}));
		b.onResolve({ filter: /\/wasm\/index\.js$/ }, (args) =>
			args.importer.startsWith(path.join(repoRoot, "npm/src"))
				? { path: path.join(wasmDir, "index.js") }
				: undefined,
		);
	},
};

/** Bundles `entry` into .build/<name>/worker.js next to the wasm. */
export async function bundle(entry, name) {
	const out = path.join(benchRoot, ".build", name);
	mkdirSync(out, { recursive: true });
	copyFileSync(
		path.join(wasmDir, "index_bg.wasm"),
		path.join(out, "index_bg.wasm"),
	);
	await build({
		entryPoints: [entry],
		outfile: path.join(out, "worker.js"),
		bundle: true,
		format: "esm",
		platform: "neutral",
		target: "es2022",
		keepNames: true,
		conditions: ["workerd", "worker", "browser"],
		mainFields: ["browser", "module", "main"],
		external: [
			"cloudflare:*",
			"*.wasm",
			...builtinModules,
			...builtinModules.map((m) => `node:${m}`),
		],
		plugins: [packageUnderTest],
		logLevel: "error",
	});
	return out;
}

export const COMPATIBILITY_DATE = "2026-02-24";

/** Starts the runtime on a bundle folder with the given objects. */
export async function start(
	folder,
	{ persist, durableObjects, bindings = {} },
) {
	const mf = new Miniflare({
		modules: true,
		modulesRoot: folder,
		scriptPath: path.join(folder, "worker.js"),
		modulesRules: [
			{ type: "ESModule", include: ["**/*.js"] },
			{ type: "CompiledWasm", include: ["**/*.wasm"] },
		],
		compatibilityDate: COMPATIBILITY_DATE,
		compatibilityFlags: ["nodejs_compat"],
		durableObjects,
		durableObjectsPersist: persist,
		bindings,
	});
	await mf.ready;
	return mf;
}
