// A Worker written as in the original package's quick start builds with
// `wrangler deploy --dry-run` (wrangler runs on the Node 22 installed from
// npm into node_modules; no network access is needed).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const out = path.join(import.meta.dirname, ".build", "quickstart");

test("the quick-start Worker builds with wrangler deploy --dry-run", {
	timeout: 120_000,
}, async () => {
	rmSync(out, { recursive: true, force: true });
	const bin = path.join(root, "node_modules", ".bin");
	const { stdout } = await run(
		path.join(bin, "wrangler"),
		["deploy", "--dry-run", "--outdir", out],
		{
			cwd: path.join(import.meta.dirname, "quickstart"),
			env: {
				...process.env,
				PATH: `${bin}:${process.env.PATH}`,
				WRANGLER_SEND_METRICS: "false",
				WRANGLER_SEND_ERROR_REPORTS: "false",
				CLOUDFLARE_CF_FETCH_ENABLED: "false",
				WRANGLER_HIDE_BANNER: "true",
			},
		},
	);
	assert.match(stdout, /env\.CHAT_STATE \(ChatStateDO\)\s+Durable Object/);
	const files = readdirSync(out);
	assert.ok(files.includes("index.js"), files.join(", "));
	assert.ok(
		files.some((f) => f.endsWith(".wasm")),
		`the engine's wasm is bundled as a module: ${files.join(", ")}`,
	);
});
