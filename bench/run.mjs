// The benchmark driver: starts the Workers runtime once per storage (tmpfs
// and disk), drives every implementation through the same StateAdapter calls
// phase by phase, interleaved so that machine noise hits all alike, and
// writes results.json, results.md and chart.svg under bench/results/.
//
// Scale with environment variables (defaults in brackets):
//   BENCH_ROUNDS [7]          timed batches per cell, after one calibration batch
//   BENCH_BATCH_MS [400]      target length of a batch
//   BENCH_STORAGE [tmpfs,disk]
//   BENCH_IMPLS [ours,original,agents,memory,noop]
//   BENCH_PHASES [all]        comma-separated phase names
//   BENCH_CONC [1,16]         concurrent callers
//   BENCH_GROWTH [0,20000,100000]  live TTL rows before the growth probe
//   BENCH_CHAT_MESSAGES [30]  messages per implementation in the Chat probe
//   BENCH_SCALE_MESSAGES [60] messages per channel in the scale-out probe
//   BENCH_COLD [7]            fresh objects per implementation
//   BENCH_ALARM_WAIT_MS [65000]  how long after its writes the alarm probe is read
//   BENCH_OUT [bench/results]

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { writeReport } from "./lib/report.mjs";
import { benchRoot, bundle, repoRoot, start, wasmDir } from "./lib/runtime.mjs";
import { PHASES } from "./worker/phases.js";

const env = process.env;
const list = (v, d) =>
	(v ?? d)
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
const config = {
	rounds: Number(env.BENCH_ROUNDS ?? 7),
	batchMs: Number(env.BENCH_BATCH_MS ?? 400),
	storages: list(env.BENCH_STORAGE, "tmpfs,disk"),
	impls: list(env.BENCH_IMPLS, "ours,original,agents,memory,noop"),
	phases:
		env.BENCH_PHASES && env.BENCH_PHASES !== "all"
			? list(env.BENCH_PHASES)
			: Object.keys(PHASES),
	concs: list(env.BENCH_CONC, "1,16").map(Number),
	growth: list(env.BENCH_GROWTH, "0,20000,100000").map(Number),
	chatMessages: Number(env.BENCH_CHAT_MESSAGES ?? 30),
	scaleMessages: Number(env.BENCH_SCALE_MESSAGES ?? 60),
	cold: Number(env.BENCH_COLD ?? 7),
	alarmWaitMs: Number(env.BENCH_ALARM_WAIT_MS ?? 65_000),
	out: path.resolve(repoRoot, env.BENCH_OUT ?? "bench/results"),
};
const DO_IMPLS = ["ours", "original", "agents"];
const has = (impl) => config.impls.includes(impl);

const began = Date.now();
const log = (...args) =>
	console.log(
		`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s]`,
		...args,
	);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);

// ---------------------------------------------------------------- runtimes

const persistRoots = {
	tmpfs: "/dev/shm",
	disk: path.join(benchRoot, ".tmp"),
};

const objects = (className) => ({
	className,
	useSQLite: true,
	unsafePreventEviction: true,
});

log("bundling the benchmark Worker");
const folder = await bundle(path.join(benchRoot, "worker/index.js"), "bench");
const runtimes = {};
for (const storage of config.storages) {
	if (!persistRoots[storage]) throw new Error(`unknown storage ${storage}`);
	const persist = path.join(
		persistRoots[storage],
		`chat-state-bench-${process.pid}`,
	);
	rmSync(persist, { recursive: true, force: true });
	mkdirSync(persist, { recursive: true });
	const mf = await start(folder, {
		persist,
		bindings: { CHAT_STATE_TEST_HOOKS: "1" },
		durableObjects: {
			OURS: objects("ChatStateDO"),
			ORIGINAL: objects("OriginalStateDO"),
			AGENTS: objects("BenchAgentParent"),
			AGENT_STATE: objects("BenchStateAgent"),
			NOOP: objects("NoopDO"),
		},
	});
	runtimes[storage] = { mf, persist };
	log(`runtime up, ${storage} storage in ${persist}`);
}

async function stopAll() {
	for (const { mf, persist } of Object.values(runtimes)) {
		await mf.dispose().catch(() => {});
		rmSync(persist, { recursive: true, force: true });
	}
}
process.on("SIGINT", async () => {
	await stopAll();
	process.exit(130);
});

/** One request to the Worker; returns [result, wall ms]. */
async function post(storage, route, body) {
	const t0 = performance.now();
	const response = await runtimes[storage].mf.dispatchFetch(
		`http://bench${route}`,
		{
			method: "POST",
			body: JSON.stringify(body),
		},
	);
	const reply = await response.json();
	const ms = performance.now() - t0;
	if (reply.err)
		throw new Error(`${route} ${JSON.stringify(body)}: ${reply.err}`);
	return [reply.ok, ms];
}

const call = async (...args) => (await post(...args))[0];
const stats = (storage, impl, name) =>
	DO_IMPLS.includes(impl) ? call(storage, "/stats", { impl, name }) : null;

function rowsDelta(before, after) {
	if (!before || !after) return null;
	return {
		rowsRead: after.rowsRead - before.rowsRead,
		rowsWritten: after.rowsWritten - before.rowsWritten,
		setAlarmCalls: after.setAlarmCalls - before.setAlarmCalls,
	};
}

let seq = 0;

const results = {
	date: new Date().toISOString(),
	config: { ...config, out: path.relative(repoRoot, config.out) },
	throughput: [],
	growth: [],
	alarm: [],
	chat: [],
	scale: [],
	cold: [],
};

try {
	// ------------------------------------------------------------ alarm probe

	// 50 keys, 200 ms TTL, 10 ms apart, on a fresh object of each implementation.
	// Written first and read at the end, so the default 60 s coalescing window
	// of ours elapses while the other probes run.
	const alarmProbe = { keys: 50, ttlMs: 200, gapMs: 10 };
	const alarmImpls = ["ours", "original", "agents"].filter(has);
	const alarmStarted = {};
	for (const storage of config.storages) {
		for (const impl of alarmImpls) {
			await call(storage, "/alarm-probe", {
				impl,
				name: "alarm-probe",
				...alarmProbe,
			});
			alarmStarted[`${storage}/${impl}`] = Date.now();
		}
	}
	log("alarm probe written; read again at the end");
	let alarmEarly = null;
	let alarmEarlyAt = null;
	async function alarmSnapshot() {
		const out = {};
		for (const storage of config.storages)
			for (const impl of alarmImpls)
				out[`${storage}/${impl}`] = await stats(storage, impl, "alarm-probe");
		return out;
	}

	// ------------------------------------------------------------ throughput

	/** Ops for one batch of about `batchMs`, from a calibration batch. */
	async function calibrate(storage, impl, name, phase, conc) {
		const n = conc * 20;
		const [ops, ms] = await post(storage, "/run", {
			impl,
			name,
			phase,
			n,
			conc,
			seq: seq++,
		});
		const rate = ops / (ms / 1000);
		return Math.min(
			300_000,
			Math.max(conc * 4, Math.round((rate * config.batchMs) / 1000)),
		);
	}

	const supported = {};
	for (const storage of config.storages.slice(0, 1))
		for (const impl of config.impls)
			supported[impl] = await call(storage, "/supports", { impl });

	for (const phase of config.phases) {
		for (const conc of config.concs) {
			const cells = [];
			for (const storage of config.storages) {
				for (const impl of config.impls) {
					const cell = {
						storage,
						phase,
						conc,
						impl,
						supported: supported[impl].includes(phase),
						opsPerSec: [],
						ops: 0,
						rowsRead: 0,
						rowsWritten: 0,
						setAlarmCalls: 0,
					};
					results.throughput.push(cell);
					if (!cell.supported) continue;
					const name = `tp-${conc}`;
					await call(storage, "/prepare", { impl, name, phase, conc });
					cell.n = await calibrate(storage, impl, name, phase, conc);
					cells.push({ ...cell, name, cell });
				}
			}
			for (let round = 0; round < config.rounds; round++) {
				for (const { storage, impl, name, n, cell } of rotate(cells, round)) {
					const before = await stats(storage, impl, name);
					const [ops, ms] = await post(storage, "/run", {
						impl,
						name,
						phase,
						n,
						conc,
						seq: seq++,
					});
					const delta = rowsDelta(before, await stats(storage, impl, name));
					cell.opsPerSec.push(ops / (ms / 1000));
					cell.ops += ops;
					if (delta) {
						cell.rowsRead += delta.rowsRead;
						cell.rowsWritten += delta.rowsWritten;
						cell.setAlarmCalls += delta.setAlarmCalls;
					}
				}
			}
			for (const { cell } of cells) {
				cell.median = median(cell.opsPerSec);
				if (DO_IMPLS.includes(cell.impl)) {
					cell.rowsReadPerOp = cell.rowsRead / cell.ops;
					cell.rowsWrittenPerOp = cell.rowsWritten / cell.ops;
					cell.setAlarmPerOp = cell.setAlarmCalls / cell.ops;
				}
			}
			const line = cells
				.filter((c) => c.storage === config.storages[0])
				.map((c) => `${c.impl} ${Math.round(c.cell.median)}`)
				.join(", ");
			log(`${phase} x${conc}: ${line} ops/s (${config.storages[0]})`);
			if (
				!alarmEarly &&
				Date.now() - Math.min(...Object.values(alarmStarted)) > 3000
			) {
				alarmEarly = await alarmSnapshot();
				alarmEarlyAt = Date.now();
			}
		}
	}

	// ------------------------------------------------------------ anatomy

	// One call taken apart: each variant adds a piece of the full call, on a
	// JavaScript object, the original's and ours.
	const anatomyVariants = [
		"noop",
		"echo",
		"jsRead",
		"jsReadInTransaction",
		"jsWrite",
		"jsWriteInTransaction",
		"originalRpc",
		"originalClient",
		"originalSubscribeRpc",
		"oursCall",
		"oursClient",
		"oursSubscribeCall",
	];
	if (has("ours") && has("original")) {
		const storage = config.storages[0];
		for (const impl of ["ours", "original"])
			await call(storage, "/prepare", {
				impl,
				name: "anatomy",
				phase: "isSubscribed",
				conc: 1,
			});
		const samples = Object.fromEntries(anatomyVariants.map((v) => [v, []]));
		const n = {};
		for (const variant of anatomyVariants) {
			const [ops, ms] = await post(storage, "/anatomy", { variant, n: 200 });
			n[variant] = Math.max(100, Math.round((ops / ms) * (config.batchMs / 4)));
		}
		for (let round = 0; round < config.rounds * 3; round++) {
			for (const variant of rotate(anatomyVariants, round)) {
				const [ops, ms] = await post(storage, "/anatomy", {
					variant,
					n: n[variant],
				});
				samples[variant].push((ms * 1000) / ops);
			}
		}
		results.anatomy = anatomyVariants.map((variant) => ({
			storage,
			variant,
			microsPerCall: median(samples[variant]),
		}));
		log(
			`anatomy: ${results.anatomy.map((a) => `${a.variant} ${a.microsPerCall.toFixed(1)} µs`).join(", ")}`,
		);
	}

	// ------------------------------------------------------------ growth probe

	// setIfNotExists (new key, TTL) after 0, 20,000 and 100,000 live TTL rows on
	// a fresh object; the original has no setIfNotExists, so `set` with a TTL is
	// measured too, on every implementation.
	const growthOps = [
		{ op: "setIfNotExists", impls: ["ours", "agents"] },
		{ op: "set", impls: ["ours", "original", "agents"] },
	];
	for (const level of config.growth) {
		const cells = [];
		for (const storage of config.storages) {
			for (const impl of ["ours", "original", "agents"].filter(has)) {
				const name = `growth-${level}`;
				if (level > 0) {
					const t0 = performance.now();
					await call(storage, "/seed", {
						impl,
						name,
						count: level,
						ttlMs: 3_600_000,
						prefix: "seed:",
					});
					log(
						`seeded ${level} rows into ${impl} (${storage}) in ${Math.round(performance.now() - t0)} ms`,
					);
				}
				for (const { op, impls } of growthOps) {
					if (!impls.includes(impl)) continue;
					const cell = {
						storage,
						level,
						impl,
						op,
						opsPerSec: [],
						ops: 0,
						rowsRead: 0,
						rowsWritten: 0,
						setAlarmCalls: 0,
					};
					results.growth.push(cell);
					const n = await calibrate(storage, impl, name, op, 1);
					cells.push({ storage, impl, name, op, n, cell });
				}
			}
		}
		for (let round = 0; round < config.rounds; round++) {
			for (const { storage, impl, name, op, n, cell } of rotate(cells, round)) {
				const before = await stats(storage, impl, name);
				const [ops, ms] = await post(storage, "/run", {
					impl,
					name,
					phase: op,
					n,
					conc: 1,
					seq: seq++,
				});
				const delta = rowsDelta(before, await stats(storage, impl, name));
				cell.opsPerSec.push(ops / (ms / 1000));
				cell.ops += ops;
				cell.rowsRead += delta.rowsRead;
				cell.rowsWritten += delta.rowsWritten;
				cell.setAlarmCalls += delta.setAlarmCalls;
			}
		}
		for (const { cell } of cells) {
			cell.median = median(cell.opsPerSec);
			cell.rowsReadPerOp = cell.rowsRead / cell.ops;
			cell.rowsWrittenPerOp = cell.rowsWritten / cell.ops;
			cell.setAlarmPerOp = cell.setAlarmCalls / cell.ops;
		}
		log(
			`growth ${level}: ${cells
				.filter((c) => c.storage === config.storages[0])
				.map(
					(c) =>
						`${c.impl} ${c.op} ${Math.round(c.cell.median)}/s ${c.cell.rowsReadPerOp.toFixed(1)} read`,
				)
				.join(", ")}`,
		);
	}

	// ------------------------------------------------------------ Chat messages

	for (const storage of config.storages) {
		for (const impl of ["ours", "original", "agents"].filter(has)) {
			const name = "chat";
			const base = { impl, name, conversation: "bench-conversation" };
			// Warm up to the steady state: the Chat exists and the thread's
			// history holds its default maximum of 100 messages.
			await post(storage, "/chat", { ...base, count: 100, seq: seq++ });
			const before = await stats(storage, impl, name);
			const [r, ms] = await post(storage, "/chat", {
				...base,
				count: config.chatMessages,
				seq: seq++,
			});
			const delta = rowsDelta(before, await stats(storage, impl, name));
			const per = (x) => (r.handled > 0 ? x / r.messages : null);
			const adapterCalls = Object.values(r.adapterCalls).reduce(
				(a, b) => a + b,
				0,
			);
			results.chat.push({
				storage,
				impl,
				messages: r.messages,
				handled: r.handled,
				errors: r.errors,
				adapterCallsByMethod: r.adapterCalls,
				adapterCallsPerMessage: per(adapterCalls),
				objectCallsPerMessage:
					r.objectCalls === undefined ? null : per(r.objectCalls),
				rowsReadPerMessage: per(delta.rowsRead),
				rowsWrittenPerMessage: per(delta.rowsWritten),
				setAlarmPerMessage: per(delta.setAlarmCalls),
				msPerMessage: ms / r.messages,
			});
			log(
				`chat ${impl} (${storage}): ${r.handled}/${r.messages} handled, ${per(delta.rowsWritten)?.toFixed(1) ?? "n/a"} rows written per message${r.errors.length ? `; ${r.errors[0]}` : ""}`,
			);
		}
	}

	// ------------------------------------------------------------ scale-out

	for (const storage of config.storages.slice(0, 1)) {
		if (!has("ours")) break;
		for (const routing of ["byChannel", "original"]) {
			const [r, ms] = await post(storage, "/scale", {
				routing,
				name: `scale-${routing}`,
				channels: 16,
				messages: config.scaleMessages,
				seq: seq++,
			});
			const counts = Object.entries(r.calls).sort((a, b) => b[1] - a[1]);
			const total = counts.reduce((a, [, n]) => a + n, 0);
			const messages = 16 * config.scaleMessages;
			results.scale.push({
				storage,
				routing,
				channels: 16,
				messages,
				calls: total,
				objects: counts.length,
				busiest: counts[0][0],
				busiestShare: counts[0][1] / total,
				messagesPerSec: messages / (ms / 1000),
			});
			log(
				`scale-out ${routing}: ${counts.length} objects, busiest ${counts[0][0]} ${((100 * counts[0][1]) / total).toFixed(1)} %`,
			);
		}
	}

	// ------------------------------------------------------------ cold start

	// The first call to a fresh object (its SQLite created, its class
	// constructed, for agents a fresh parent Agent and facet too), timed from
	// here, then a second call to the same object.
	for (const storage of config.storages) {
		const samples = Object.fromEntries(config.impls.map((impl) => [impl, []]));
		for (let i = 0; i < config.cold; i++) {
			for (const impl of rotate(config.impls, i)) {
				const name = `cold-${seq++}`;
				const [, firstMs] = await post(storage, "/probe-call", { impl, name });
				const [, secondMs] = await post(storage, "/probe-call", { impl, name });
				samples[impl].push({ firstMs, secondMs });
			}
		}
		for (const impl of config.impls) {
			results.cold.push({
				storage,
				impl,
				firstMs: median(samples[impl].map((s) => s.firstMs)),
				secondMs: median(samples[impl].map((s) => s.secondMs)),
				samples: samples[impl].length,
			});
		}
		log(
			`cold start (${storage}): ${results.cold
				.filter((c) => c.storage === storage)
				.map((c) => `${c.impl} ${c.firstMs.toFixed(1)} ms`)
				.join(", ")}`,
		);
	}

	// ------------------------------------------------------------ alarm probe, read

	const firstWrite = Math.min(...Object.values(alarmStarted));
	const wait = firstWrite + config.alarmWaitMs - Date.now();
	if (wait > 0) {
		log(`waiting ${Math.ceil(wait / 1000)} s for the alarm probe's window`);
		await sleep(wait);
	}
	const alarmFinal = await alarmSnapshot();
	for (const storage of config.storages) {
		for (const impl of alarmImpls) {
			const key = `${storage}/${impl}`;
			const f = alarmFinal[key];
			const remaining = impl === "ours" ? f.counts.cacheKeys : f.counts.cache;
			results.alarm.push({
				storage,
				impl,
				observedMs: Date.now() - alarmStarted[key],
				early: alarmEarly?.[key]
					? {
							afterMs: alarmEarlyAt - alarmStarted[key],
							alarmRuns: alarmEarly[key].alarmRuns,
							setAlarmCalls: alarmEarly[key].setAlarmCalls,
						}
					: null,
				alarmRuns: f.alarmRuns,
				setAlarmCalls: f.setAlarmCalls,
				rowsLeft: remaining,
			});
		}
	}
	log(
		`alarm probe: ${results.alarm
			.filter((a) => a.storage === config.storages[0])
			.map(
				(a) =>
					`${a.impl} ${a.alarmRuns} runs, ${a.setAlarmCalls} setAlarm, ${a.rowsLeft} rows left`,
			)
			.join("; ")}`,
	);
} finally {
	await stopAll();
}

// ------------------------------------------------------------ sizes, versions

const wasm = readFileSync(path.join(wasmDir, "index_bg.wasm"));
results.wasm = {
	rawBytes: wasm.length,
	gzipBytes: gzipSync(wasm, { level: 9 }).length,
	optimized: env.BENCH_WASM_OPT === "1",
	built: "worker-build --release, into bench/.build/wasm",
};

const version = (pkg, from = "bench") => {
	try {
		const file = path.join(repoRoot, from, "node_modules", pkg, "package.json");
		return JSON.parse(readFileSync(file, "utf8")).version;
	} catch {
		return "unknown";
	}
};
const git = (...args) => {
	try {
		return execFileSync("git", args, {
			cwd: repoRoot,
			encoding: "utf8",
		}).trim();
	} catch {
		return "unknown";
	}
};
const cpus = os.cpus();
results.machine = {
	nproc: os.availableParallelism?.() ?? cpus.length,
	cpu: cpus[0]?.model ?? "unknown",
	memoryGiB: Math.round(os.totalmem() / 2 ** 30),
	os: `${os.type()} ${os.release()} ${os.arch()}`,
};
results.versions = {
	node: process.version,
	miniflare: version("miniflare", "npm"),
	workerd: version("workerd", "npm"),
	ours: `${JSON.parse(readFileSync(path.join(repoRoot, "npm/package.json"), "utf8")).version} (${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--", "crates", "npm/src") ? ", uncommitted changes" : ""})`,
	original: version("chat-state-cloudflare-do-original"),
	agents: version("agents"),
	"@chat-adapter/state-memory": version("@chat-adapter/state-memory"),
	chat: version("chat"),
	"@chat-adapter/web": version("@chat-adapter/web"),
};
results.elapsedSeconds = Math.round((Date.now() - began) / 1000);

mkdirSync(config.out, { recursive: true });
writeReport(results, config.out);
log(
	`wrote ${path.relative(repoRoot, config.out)}/results.{json,md} and chart.svg`,
);
