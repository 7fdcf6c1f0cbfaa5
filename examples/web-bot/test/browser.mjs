// The web bot in a real browser: Debian's Chromium driven by playwright-core
// against `scripts/run` on a free loopback port with a temporary persistence
// folder. Sends messages, watches the replies and the state inspector,
// restarts the server on the same folder and checks that the bot still
// knows what it was told. Run by scripts/browser-test; prints a closing
// `N passed, N failed` line and exits non-zero on any failure.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../../..");
const out = path.join(root, "target", "web-bot-test");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const DEADLINE_MS = Number(process.env.BROWSER_TEST_DEADLINE_MS ?? 300_000);
const STEP_MS = 30_000;

mkdirSync(out, { recursive: true });
const scratch = mkdtempSync(path.join(os.tmpdir(), "web-bot-test-"));
const persist = path.join(scratch, "state");
const secret = crypto.randomUUID();
const started = Date.now();
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)}s`;

// ---------------------------------------------------------------- server

let server = null;

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once("error", reject);
		s.listen(0, "127.0.0.1", () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/** Starts `scripts/run` in its own process group; resolves once it answers. */
async function startServer(port, run, extra) {
	const logFile = path.join(out, `server-${run}.log`);
	const log = createWriteStream(logFile);
	const child = spawn(
		path.join(root, "scripts/run"),
		[
			"--no-setup",
			"--port",
			String(port),
			"--persist",
			persist,
			"--",
			"--inspector-port",
			String(await freePort()),
			"--show-interactive-dev-session=false",
			...extra,
		],
		{ cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] },
	);
	child.stdout.pipe(log);
	child.stderr.pipe(log);
	server = { child, logFile, exited: once(child, "exit") };
	const until = Date.now() + 60_000;
	while (Date.now() < until) {
		if (child.exitCode !== null) break;
		try {
			const response = await fetch(`http://127.0.0.1:${port}/`, {
				signal: AbortSignal.timeout(2_000),
			});
			if (response.ok) return;
		} catch {}
		await sleep(250);
	}
	throw new Error(`the server did not answer within 60 s; see ${logFile}`);
}

/** Stops the server's whole process group (wrangler, its Node, workerd). */
async function stopServer() {
	if (!server) return;
	const { child, exited } = server;
	server = null;
	if (child.exitCode !== null || child.signalCode !== null) return;
	try {
		process.kill(-child.pid, "SIGTERM");
	} catch {}
	const done = await Promise.race([exited.then(() => true), sleep(8_000)]);
	try {
		process.kill(-child.pid, "SIGKILL");
	} catch {}
	if (!done) await Promise.race([exited, sleep(2_000)]);
}

function killNow() {
	if (server) {
		try {
			process.kill(-server.child.pid, "SIGKILL");
		} catch {}
	}
}
process.on("exit", killNow);
for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, () => {
		killNow();
		process.exit(1);
	});
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- checks

const results = [];

async function check(name, f) {
	const since = Date.now();
	try {
		await withTimeout(f(), STEP_MS, name);
		results.push({ name, ok: true });
		console.log(`ok     ${name} (${seconds(since)})`);
	} catch (error) {
		results.push({ name, ok: false });
		console.log(
			`FAILED ${name} (${seconds(since)})\n       ${String(
				error?.stack ?? error,
			)
				.split("\n")
				.join("\n       ")}`,
		);
		throw error;
	}
}

function withTimeout(promise, ms, what) {
	let timer;
	return Promise.race([
		promise,
		new Promise((_, reject) => {
			timer = setTimeout(
				() => reject(new Error(`${what}: timed out after ${ms} ms`)),
				ms,
			);
		}),
	]).finally(() => clearTimeout(timer));
}

function expect(condition, message) {
	if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------- the page

/** Texts of the chat bubbles, in order, with their roles. */
function bubbles(page) {
	return page.$$eval("#log .msg", (nodes) =>
		nodes.map((n) => ({ role: n.dataset.role, text: n.textContent })),
	);
}

/** The inspector's table: object name -> field -> cell text. */
function inspector(page) {
	return page.evaluate(() => {
		const body = document.getElementById("inspector-body");
		const rows = {};
		for (const tr of body.querySelectorAll("tbody tr")) {
			const cells = {};
			for (const td of tr.querySelectorAll("td[data-field]"))
				cells[td.dataset.field] = td.textContent;
			rows[tr.dataset.object] = { className: tr.className, ...cells };
		}
		return {
			state: body.dataset.state,
			rows,
			threadState: document.getElementById("thread-state")?.textContent ?? null,
		};
	});
}

const num = (row, field) => Number(row?.[field]);

async function inspections(page) {
	return Number((await page.getAttribute("body", "data-inspections")) ?? 0);
}

/** Waits for the page to be ready: history loaded, inspector rendered once. */
async function ready(page) {
	await page.waitForSelector("body[data-ready=true]", { timeout: STEP_MS });
}

/** Sends a message through the form; returns the bot's new bubbles once the inspector has refreshed. */
async function say(page, text) {
	const before = (await bubbles(page)).length;
	const seen = await inspections(page);
	await page.fill("#text", text);
	await page.press("#text", "Enter");
	await page.waitForFunction(
		(n) => Number(document.body.dataset.inspections) > n,
		seen,
		{
			timeout: STEP_MS,
		},
	);
	return (await bubbles(page)).slice(before);
}

async function retry(page) {
	const before = (await bubbles(page)).length;
	const seen = await inspections(page);
	await page.click("#retry");
	await page.waitForFunction(
		(n) => Number(document.body.dataset.inspections) > n,
		seen,
		{
			timeout: STEP_MS,
		},
	);
	return (await bubbles(page)).slice(before);
}

function botText(added) {
	const bot = added.filter((b) => b.role === "bot");
	expect(
		bot.length === 1,
		`expected one bot reply, got ${JSON.stringify(added)}`,
	);
	return bot[0].text;
}

/** Sum of a field over the hashed key buckets. */
function buckets(report, field) {
	return Object.entries(report.rows)
		.filter(([name]) => /^bot#k\d+$/.test(name))
		.reduce((sum, [, row]) => sum + num(row, field), 0);
}

function threadRow(report) {
	const entry = Object.entries(report.rows).find(([, row]) =>
		row.className.includes("thread"),
	);
	expect(
		entry,
		`no thread shard row in ${JSON.stringify(Object.keys(report.rows))}`,
	);
	return { name: entry[0], ...entry[1] };
}

// ---------------------------------------------------------------- the run

let browser;
let page;
const screenshot = path.join(out, "web-bot.png");

async function main() {
	const port = await freePort();
	const base = `http://127.0.0.1:${port}`;
	console.log(`server: scripts/run on ${base}, state in ${persist}`);

	await check("the server starts (scripts/run --no-setup)", () =>
		startServer(port, 1, []),
	);

	await check("Chromium starts with a fresh profile", async () => {
		browser = await chromium.launchPersistentContext(
			path.join(scratch, "profile"),
			{
				executablePath: CHROMIUM,
				headless: true,
				args: [
					"--headless",
					"--no-sandbox",
					"--disable-gpu",
					"--disable-quic",
					"--no-first-run",
					"--disable-background-networking",
					"--disable-component-update",
					"--disable-sync",
					// Loopback only: every other host name fails to resolve.
					"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
				],
				viewport: { width: 1440, height: 900 },
				timeout: STEP_MS,
			},
		);
		page = browser.pages()[0] ?? (await browser.newPage());
		page.setDefaultTimeout(STEP_MS);
	});

	let threadShard;
	await check(
		"the page loads, sets a user cookie, and shows an empty inspector",
		async () => {
			await page.goto(base);
			await ready(page);
			const cookies = await browser.cookies(base);
			const user = cookies.find((c) => c.name === "chat_user");
			expect(
				user && /^[0-9a-f]{32}$/.test(user.value),
				`no chat_user cookie: ${JSON.stringify(cookies)}`,
			);
			const report = await inspector(page);
			expect(report.state === "on", "the inspector is on under scripts/run");
			const thread = threadRow(report);
			threadShard = thread.name;
			expect(
				threadShard === `web:${user.value}`,
				`thread shard ${threadShard}`,
			);
			const names = Object.keys(report.rows);
			for (let i = 0; i < 16; i++)
				expect(names.includes(`bot#k${i}`), `bucket bot#k${i} listed`);
			expect(
				num(thread, "subscriptions") === 0 && num(thread, "listRows") === 0,
				"fresh thread shard is empty",
			);
			expect(buckets(report, "cacheKeys") === 0, "no dedupe marks yet");
		},
	);

	await check(
		"first message: the bot subscribes (onNewMention) and remembers a fact",
		async () => {
			const reply = botText(await say(page, "remember my name is Ada"));
			expect(/your name is Ada/.test(reply), reply);
			expect(/subscribed/i.test(reply), reply);
			expect(
				/message 1 in this conversation · onNewMention/.test(reply),
				reply,
			);
		},
	);

	await check(
		"the inspector's counts move: subscription, thread state, history rows, a dedupe mark, rows written",
		async () => {
			const report = await inspector(page);
			const thread = threadRow(report);
			expect(
				num(thread, "subscriptions") === 1,
				`subscriptions ${thread.subscriptions}`,
			);
			expect(
				num(thread, "cacheKeys") === 1,
				`thread shard cache keys ${thread.cacheKeys}`,
			);
			expect(num(thread, "listRows") === 2, `history rows ${thread.listRows}`);
			expect(num(thread, "locks") <= 1, `locks ${thread.locks}`);
			expect(
				num(thread, "rowsWritten") > 0,
				`rows written ${thread.rowsWritten}`,
			);
			expect(
				thread.alarmAt !== "—",
				"a cleanup alarm is armed for the expiring keys",
			);
			expect(
				buckets(report, "cacheKeys") === 1,
				"one dedupe mark in the key buckets",
			);
			expect(
				Object.values(report.rows).some((r) => r.className.includes("hit")),
				"the dedupe mark's bucket is highlighted",
			);
			expect(
				/"Ada"/.test(report.threadState) &&
					/"count": 1/.test(report.threadState),
				report.threadState,
			);
		},
	);

	await check(
		"second message arrives through onSubscribedMessage and is answered from thread state",
		async () => {
			const reply = botText(await say(page, "what is my name?"));
			expect(/Your name is Ada/.test(reply), reply);
			expect(
				/message 2 in this conversation · onSubscribedMessage/.test(reply),
				reply,
			);
			const report = await inspector(page);
			expect(
				num(threadRow(report), "listRows") === 4,
				`history rows ${threadRow(report).listRows}`,
			);
			expect(buckets(report, "cacheKeys") === 2, "two dedupe marks");
		},
	);

	await check("a retry with the same message id is handled once", async () => {
		const added = await retry(page);
		expect(
			!added.some((b) => b.role === "bot"),
			`no bot reply to a retry: ${JSON.stringify(added)}`,
		);
		expect(
			added.some((b) => b.role === "note" && /already handled/.test(b.text)),
			JSON.stringify(added),
		);
		const report = await inspector(page);
		expect(
			num(threadRow(report), "listRows") === 4,
			"the retry added nothing to the history",
		);
		expect(
			buckets(report, "cacheKeys") === 2,
			"the retry added no dedupe mark",
		);
		expect(/"count": 2/.test(report.threadState), report.threadState);
	});

	await check("the message count skips the retry", async () => {
		const reply = botText(await say(page, "count"));
		expect(/You have sent me 3 messages/.test(reply), reply);
		expect(/message 3 in this conversation/.test(reply), reply);
	});

	await check("history lists the messages kept in the state", async () => {
		const reply = botText(await say(page, "history"));
		for (const line of [
			"1. you: remember my name is Ada",
			"3. you: what is my name?",
			"5. you: count",
			"7. you: history",
		]) {
			expect(reply.includes(line), `${line} in\n${reply}`);
		}
	});

	await check("no route reaches the Durable Object", async () => {
		const answers = await page.evaluate(async () => {
			const envelope = JSON.stringify({ v: 1, op: "inspect" });
			const post = (url) =>
				fetch(url, {
					method: "POST",
					headers: { "content-type": "application/json" },
					body: envelope,
				});
			const results = [];
			for (const url of [
				"/",
				"/api/inspect",
				"/api/history",
				"/do",
				"/api/chat",
			]) {
				const r = await post(url);
				results.push({ url, status: r.status, body: await r.text() });
			}
			return results;
		});
		for (const a of answers) {
			expect(a.status === 404 || a.status === 400, `${a.url}: ${a.status}`);
			expect(
				!a.body.includes('"v":1'),
				`${a.url} answered with a protocol reply: ${a.body}`,
			);
		}
	});

	await check(
		"the server restarts on the same persistence folder, without the local inspector flag",
		async () => {
			await stopServer();
			await startServer(port, 2, [
				"--var",
				"LOCAL_INSPECTOR:off",
				"--var",
				`INSPECTOR_SECRET:${secret}`,
			]);
		},
	);

	await check(
		"after a reload the page shows the conversation read back from the state",
		async () => {
			await page.reload();
			await ready(page);
			const kept = (await bubbles(page)).filter(
				(b) => b.role === "you" || b.role === "bot",
			);
			expect(
				kept.length === 8,
				`8 kept messages, got ${kept.length}: ${JSON.stringify(kept.map((b) => b.text.slice(0, 30)))}`,
			);
			expect(
				kept[0].text === "remember my name is Ada" && kept[0].role === "you",
				JSON.stringify(kept[0]),
			);
			expect(
				kept[7].role === "bot" && kept[7].text.includes("7. you: history"),
				JSON.stringify(kept[7]),
			);
		},
	);

	await check(
		"without the flag or the secret the inspector answers 404",
		async () => {
			const report = await inspector(page);
			expect(report.state === "off", `inspector state ${report.state}`);
			const statuses = await page.evaluate(
				async (conversation) => {
					const url = `/api/inspect?conversation=${conversation}`;
					const plain = await fetch(url);
					const wrong = await fetch(url, {
						headers: { "x-inspector-secret": "wrong" },
					});
					return [plain.status, wrong.status];
				},
				await page.evaluate(() => localStorage.getItem("conversation")),
			);
			expect(
				statuses[0] === 404 && statuses[1] === 404,
				`statuses ${statuses}`,
			);
		},
	);

	await check(
		"with the secret the inspector shows the state kept across the restart",
		async () => {
			await page.goto(`${base}/#inspector=${secret}`);
			await page.reload();
			await ready(page);
			const report = await inspector(page);
			expect(report.state === "on", `inspector state ${report.state}`);
			const thread = threadRow(report);
			expect(thread.name === threadShard, `same thread shard ${thread.name}`);
			expect(
				num(thread, "subscriptions") === 1,
				`subscriptions ${thread.subscriptions}`,
			);
			expect(num(thread, "listRows") === 8, `history rows ${thread.listRows}`);
			expect(
				buckets(report, "cacheKeys") === 4,
				`four dedupe marks, got ${buckets(report, "cacheKeys")}`,
			);
			expect(
				/"Ada"/.test(report.threadState) &&
					/"count": 4/.test(report.threadState),
				report.threadState,
			);
		},
	);

	await check(
		"after the restart the bot still knows the name and the count continues",
		async () => {
			const reply = botText(await say(page, "what is my name?"));
			expect(/Your name is Ada/.test(reply), reply);
			expect(
				/message 5 in this conversation · onSubscribedMessage/.test(reply),
				reply,
			);
			const report = await inspector(page);
			expect(
				num(threadRow(report), "listRows") === 10,
				`history rows ${threadRow(report).listRows}`,
			);
			expect(
				num(threadRow(report), "rowsRead") > 0,
				"rows read since the object woke again",
			);
		},
	);

	await check("a screenshot of the page is saved", async () => {
		await page.screenshot({ path: screenshot, fullPage: false });
		console.log(
			`       screenshot: ${path.relative(process.cwd(), screenshot) || screenshot}`,
		);
	});
}

let failed = false;
const deadline = setTimeout(() => {
	console.log(
		`FAILED the browser test ran past its ${DEADLINE_MS / 1000} s bound`,
	);
	failed = true;
	finish();
}, DEADLINE_MS);

let finishing = false;
async function finish() {
	if (finishing) return;
	finishing = true;
	clearTimeout(deadline);
	if (failed && page) {
		await withTimeout(
			page.screenshot({ path: path.join(out, "web-bot-failure.png") }),
			10_000,
			"screenshot",
		)
			.then(() =>
				console.log(
					`       failure screenshot: ${path.join(out, "web-bot-failure.png")}`,
				),
			)
			.catch(() => {});
	}
	await withTimeout(
		browser?.close() ?? Promise.resolve(),
		10_000,
		"closing Chromium",
	).catch(() => {});
	await stopServer().catch(() => {});
	killNow();
	if (failed) console.log(`server logs: ${path.join(out, "server-*.log")}`);
	rmSync(scratch, { recursive: true, force: true });
	const passed = results.filter((r) => r.ok).length;
	const bad =
		results.length - passed + (failed && results.every((r) => r.ok) ? 1 : 0);
	console.log(`browser test: ${seconds(started)}`);
	console.log(`${passed} passed, ${bad} failed`);
	process.exit(bad > 0 ? 1 : 0);
}

main()
	.catch(() => {
		failed = true;
	})
	.finally(finish);
