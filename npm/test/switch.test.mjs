// Switching packages keeps the data: a bot writes state with the original
// package, then the same Worker (same binding, class name and persistence)
// runs this package and finds everything that is still live.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { bundle, start } from "./runtime.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("state written by the original package is taken over in place", {
	timeout: 120_000,
}, async () => {
	const persist = mkdtempSync(path.join(tmpdir(), "chat-state-switch-"));
	try {
		const before = await start(
			await bundle(
				path.join(import.meta.dirname, "switch/original.js"),
				"switch-original",
			),
			{
				persist,
			},
		);
		const written = await (await before.dispatchFetch("http://bot/")).json();
		await before.dispose();
		assert.ok(written.lock?.token, "the original package granted a lock");
		await sleep(5);

		const after = await start(
			await bundle(
				path.join(import.meta.dirname, "switch/ours.js"),
				"switch-ours",
			),
			{
				persist,
			},
		);
		try {
			const read = await (
				await after.dispatchFetch("http://bot/", {
					method: "POST",
					body: JSON.stringify(written),
				})
			).json();
			assert.deepEqual(read, {
				subscribed: true,
				lockTaken: true,
				threadState: { count: 3, name: "Ada" },
				dedupeBlocks: true,
				shortLived: null,
				extended: true,
				freeAfterRelease: true,
			});
		} finally {
			await after.dispose();
		}
	} finally {
		rmSync(persist, { recursive: true, force: true });
	}
});

test("a client of this package facing the original's object fails with a clear version error", async () => {
	const mf = await start(
		await bundle(
			path.join(import.meta.dirname, "switch/skew.js"),
			"switch-skew",
		),
	);
	try {
		const reply = await (await mf.dispatchFetch("http://bot/")).json();
		assert.equal(reply.code, "protocol");
		assert.match(reply.message, /does not speak this package's protocol/);
	} finally {
		await mf.dispose();
	}
});
