// Turns the driver's results into results.json, results.md (tables and the
// targets, each met or missed) and chart.svg (ops/s per phase, log scale).

import { writeFileSync } from "node:fs";
import path from "node:path";
import { PHASES } from "../worker/phases.js";

const IMPLS = ["ours", "original", "agents", "memory", "noop"];
const LABEL = {
	ours: "ours",
	original: "original 0.1.1",
	agents: "agents",
	memory: "state-memory",
	noop: "no-op RPC",
};
const COLOR = {
	ours: "#d9480f",
	original: "#1c7ed6",
	agents: "#2b8a3e",
	memory: "#868e96",
	noop: "#343a40",
};

const int = (x) =>
	x === null || x === undefined ? "n/a" : Math.round(x).toLocaleString("en-US");
const num = (x, d = 1) =>
	x === null || x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(d);
const ratio = (a, b) => (a && b ? a / b : null);
const times = (x) => (x === null ? "n/a" : `${x.toFixed(2)}x`);
const pct = (x) => (x === null ? "n/a" : `${(100 * x).toFixed(0)} %`);

function cell(results, storage, phase, conc, impl) {
	return results.throughput.find(
		(c) =>
			c.storage === storage &&
			c.phase === phase &&
			c.conc === conc &&
			c.impl === impl,
	);
}

const rate = (c) => (c?.supported ? c.median : null);

function table(head, rows) {
	const line = (cells) => `| ${cells.join(" | ")} |`;
	return [line(head), line(head.map(() => "---")), ...rows.map(line)].join(
		"\n",
	);
}

function throughputTable(results, storage) {
	const { phases, concs } = results.config;
	const impls = IMPLS.filter((i) => results.config.impls.includes(i));
	const rows = [];
	for (const phase of phases) {
		for (const conc of concs) {
			const r = Object.fromEntries(
				impls.map((i) => [i, rate(cell(results, storage, phase, conc, i))]),
			);
			rows.push([
				PHASES[phase].title,
				String(conc),
				...impls.map((i) => int(r[i])),
				times(ratio(r.ours, r.original)),
				times(ratio(r.ours, r.agents)),
				pct(ratio(r.ours, r.memory)),
				pct(ratio(r.ours, r.noop)),
			]);
		}
	}
	return table(
		[
			"Phase",
			"Callers",
			...impls.map((i) => LABEL[i]),
			"ours / original",
			"ours / agents",
			"ours / memory",
			"ours / no-op",
		],
		rows,
	);
}

function rowsTable(results, storage) {
	const rows = [];
	for (const phase of results.config.phases) {
		const r = ["ours", "original", "agents"].map((impl) => {
			const c = cell(results, storage, phase, 1, impl);
			return c?.supported && c.rowsReadPerOp !== undefined
				? `${num(c.rowsReadPerOp)} / ${num(c.rowsWrittenPerOp)} / ${num(c.setAlarmPerOp, 2)}`
				: "n/a";
		});
		rows.push([PHASES[phase].title, ...r]);
	}
	return table(
		[
			"Phase (1 caller)",
			"ours: read / written / setAlarm",
			"original",
			"agents",
		],
		rows,
	);
}

function growthTable(results, storage) {
	const rows = results.growth
		.filter((g) => g.storage === storage)
		.map((g) => [
			g.op === "set" ? "set with TTL" : "setIfNotExists with TTL",
			LABEL[g.impl],
			int(g.level),
			int(g.median),
			num(g.rowsReadPerOp),
			num(g.rowsWrittenPerOp),
			num(g.setAlarmPerOp, 2),
		]);
	return table(
		[
			"Call",
			"Implementation",
			"Live TTL rows",
			"ops/s",
			"rows read / op",
			"rows written / op",
			"setAlarm / op",
		],
		rows,
	);
}

function alarmTable(results) {
	return table(
		[
			"Storage",
			"Implementation",
			"early: after",
			"alarm runs",
			"setAlarm calls",
			"at the end: after",
			"alarm runs",
			"setAlarm calls",
			"rows left",
		],
		results.alarm.map((a) => [
			a.storage,
			LABEL[a.impl],
			a.early ? `${num(a.early.afterMs / 1000)} s` : "n/a",
			a.early ? String(a.early.alarmRuns) : "n/a",
			a.early ? String(a.early.setAlarmCalls) : "n/a",
			`${Math.round(a.observedMs / 1000)} s`,
			String(a.alarmRuns),
			String(a.setAlarmCalls),
			String(a.rowsLeft),
		]),
	);
}

function chatTable(results) {
	return table(
		[
			"Storage",
			"Implementation",
			"handled",
			"adapter calls / msg",
			"object calls / msg",
			"rows read / msg",
			"rows written / msg",
			"setAlarm / msg",
			"ms / msg",
			"errors",
		],
		results.chat.map((c) => [
			c.storage,
			LABEL[c.impl],
			`${c.handled}/${c.messages}`,
			num(c.adapterCallsPerMessage),
			num(c.objectCallsPerMessage),
			num(c.rowsReadPerMessage),
			num(c.rowsWrittenPerMessage),
			num(c.setAlarmPerMessage, 2),
			num(c.msPerMessage, 2),
			c.errors.length ? c.errors[0].replace(/\|/g, "\\|").slice(0, 120) : "",
		]),
	);
}

function scaleTable(results) {
	return table(
		[
			"Routing",
			"objects",
			"calls",
			"busiest object",
			"its share",
			"2/N",
			"messages/s (one workerd thread)",
		],
		results.scale.map((s) => [
			s.routing === "byChannel"
				? "ours: `shardKey: byChannel`, 16 key buckets"
				: "original's rule: thread calls by channel, every key in `name`",
			String(s.objects),
			int(s.calls),
			`\`${s.busiest}\``,
			pct(s.busiestShare),
			pct(2 / s.objects),
			int(s.messagesPerSec),
		]),
	);
}

function coldTable(results) {
	return table(
		["Storage", ...results.config.impls.map((i) => LABEL[i])],
		[...new Set(results.cold.map((c) => c.storage))].map((storage) => [
			storage,
			...results.config.impls.map((impl) => {
				const c = results.cold.find(
					(x) => x.storage === storage && x.impl === impl,
				);
				return c ? `${num(c.firstMs)} ms (then ${num(c.secondMs)} ms)` : "n/a";
			}),
		]),
	);
}

const ANATOMY_LABEL = {
	noop: "no-op RPC (the runtime's limit)",
	echo: "RPC echoing the request's JSON text",
	jsRead: "JavaScript object: one indexed `SELECT`",
	jsReadInTransaction:
		"JavaScript object: the same `SELECT` in `transactionSync`",
	originalRpc: "original object: `isSubscribed` RPC",
	originalClient: "original client: `isSubscribed`",
	oursCall: "ours: `call()` with an `isSubscribed` envelope",
	oursClient: "ours client: `isSubscribed`",
	jsWrite: "JavaScript object: one `INSERT OR REPLACE`",
	jsWriteInTransaction:
		"JavaScript object: the same write in `transactionSync`",
	originalSubscribeRpc: "original object: `subscribe` RPC (new thread)",
	oursSubscribeCall: "ours: `call()` with a `subscribe` envelope (new thread)",
};

function anatomyTable(results) {
	const base = results.anatomy.find((a) => a.variant === "noop")?.microsPerCall;
	return table(
		[
			"Call (1 caller, sequential)",
			"µs per call",
			"calls/s",
			"over the no-op RPC",
		],
		results.anatomy.map((a) => [
			ANATOMY_LABEL[a.variant],
			num(a.microsPerCall),
			int(1e6 / a.microsPerCall),
			base
				? `${a.microsPerCall - base >= 0 ? "+" : ""}${num(a.microsPerCall - base)} µs`
				: "n/a",
		]),
	);
}

/** Each target of the brief, measured: met, missed (by how much) or n/a. */
export function targets(results) {
	const out = [];
	const storages = results.config.storages;
	const phaseCells = [];
	for (const storage of storages)
		for (const phase of results.config.phases)
			for (const conc of results.config.concs)
				phaseCells.push({
					storage,
					phase,
					conc,
					ours: rate(cell(results, storage, phase, conc, "ours")),
					original: rate(cell(results, storage, phase, conc, "original")),
					noop: rate(cell(results, storage, phase, conc, "noop")),
				});

	const vsOriginal = phaseCells.filter((c) => c.ours && c.original);
	const missedOriginal = vsOriginal.filter((c) => c.ours < 2 * c.original);
	const naOriginal = [
		...new Set(phaseCells.filter((c) => !c.original).map((c) => c.phase)),
	];
	const beyondNoop = missedOriginal.filter(
		(c) => c.noop && 2 * c.original > c.noop,
	);
	out.push({
		target: "every phase >= 2x the original's ops/s",
		met: missedOriginal.length === 0,
		detail: `${vsOriginal.length - missedOriginal.length} of ${vsOriginal.length} cells met; missed: ${
			missedOriginal
				.map(
					(c) =>
						`${c.phase} x${c.conc} ${c.storage} ${(c.ours / c.original).toFixed(2)}x`,
				)
				.join(", ") || "none"
		}; in ${beyondNoop.length} of the missed cells 2x the original is above the no-op RPC rate; n/a (the original lacks them): ${naOriginal.join(", ")}`,
	});

	const vsNoop = phaseCells.filter((c) => c.ours && c.noop);
	const missedNoop = vsNoop.filter((c) => c.ours < 0.5 * c.noop);
	out.push({
		target: "every phase >= 50% of the no-op RPC rate (same calls per op)",
		met: missedNoop.length === 0,
		detail: `${vsNoop.length - missedNoop.length} of ${vsNoop.length} cells met; missed: ${
			missedNoop
				.map(
					(c) => `${c.phase} x${c.conc} ${c.storage} ${pct(c.ours / c.noop)}`,
				)
				.join(", ") || "none"
		}`,
	});

	const first = storages[0];
	const reads = results.config.phases
		.map((phase) => ({ phase, c: cell(results, first, phase, 1, "ours") }))
		.filter(({ c }) => c?.rowsReadPerOp !== undefined);
	const overReads = reads.filter(({ c }) => c.rowsReadPerOp > 4);
	out.push({
		target: "rows read per op <= 4",
		met: overReads.length === 0,
		detail: `${reads.length - overReads.length} of ${reads.length} phases met; over: ${
			overReads
				.map(({ phase, c }) => `${phase} ${num(c.rowsReadPerOp)}`)
				.join(", ") || "none"
		}`,
	});

	const growth = results.growth.filter(
		(g) => g.storage === first && g.impl === "ours",
	);
	const sine = growth.filter((g) => g.op === "setIfNotExists");
	if (sine.length) {
		const values = sine.map((g) => g.rowsReadPerOp);
		const flat = Math.max(...values) - Math.min(...values) <= 0.5;
		out.push({
			target: "rows read per setIfNotExists flat across the growth probe",
			met: flat,
			detail: sine
				.map(
					(g) =>
						`${int(g.level)} rows: ${num(g.rowsReadPerOp)} read, ${int(g.median)} ops/s`,
				)
				.join("; "),
		});
	}

	const append = cell(results, first, "append", 1, "ours");
	if (append?.rowsWrittenPerOp !== undefined)
		out.push({
			target: "rows written per append <= 4",
			met: append.rowsWrittenPerOp <= 4,
			detail: `${num(append.rowsWrittenPerOp)} written per append to a full 50-item list (original: n/a; agents: ${num(cell(results, first, "append", 1, "agents")?.rowsWrittenPerOp)})`,
		});

	const alarm = results.alarm.filter((a) => a.impl === "ours");
	if (alarm.length)
		out.push({
			target: "at most 3 alarm runs in the alarm probe",
			met: alarm.every((a) => a.alarmRuns <= 3 && a.rowsLeft === 0),
			detail: alarm
				.map(
					(a) =>
						`${a.storage}: ${a.alarmRuns} runs, ${a.setAlarmCalls} setAlarm, ${a.rowsLeft} rows left after ${Math.round(a.observedMs / 1000)} s`,
				)
				.join("; "),
		});

	const chatOurs = results.chat.find(
		(c) => c.storage === first && c.impl === "ours",
	);
	const chatOriginal = results.chat.find(
		(c) => c.storage === first && c.impl === "original",
	);
	const chatAgents = results.chat.find(
		(c) => c.storage === first && c.impl === "agents",
	);
	if (chatOurs && chatOriginal)
		out.push({
			target: "rows written per Chat message <= 1/10 of the original's",
			met: chatOriginal.rowsWrittenPerMessage
				? chatOurs.rowsWrittenPerMessage <=
					chatOriginal.rowsWrittenPerMessage / 10
				: null,
			detail: chatOriginal.rowsWrittenPerMessage
				? `${num(chatOurs.rowsWrittenPerMessage)} vs ${num(chatOriginal.rowsWrittenPerMessage)}`
				: `not measurable: the original handled ${chatOriginal.handled} of ${chatOriginal.messages} messages (${chatOriginal.errors[0] ?? "no error logged"}); ours wrote ${num(chatOurs.rowsWrittenPerMessage)} rows per message${chatAgents ? `, agents ${num(chatAgents.rowsWrittenPerMessage)}` : ""}`,
		});

	if (results.wasm)
		out.push({
			target: "wasm <= 250 KB gzipped",
			met: results.wasm.gzipBytes <= 250_000,
			detail: `${int(results.wasm.gzipBytes)} bytes gzipped (${int(results.wasm.rawBytes)} raw${results.wasm.optimized ? ", wasm-opt" : ", not optimised by wasm-opt"})`,
		});

	const scale = results.scale.find((s) => s.routing === "byChannel");
	const scaleOriginal = results.scale.find((s) => s.routing === "original");
	if (scale)
		out.push({
			target: "scale-out: busiest object's share of calls <= 2/N",
			met: scale.busiestShare <= 2 / scale.objects,
			detail: `${pct(scale.busiestShare)} over N = ${scale.objects} objects (2/N = ${pct(2 / scale.objects)}); the original's rule: ${scaleOriginal ? `${pct(scaleOriginal.busiestShare)} on \`${scaleOriginal.busiest}\`` : "n/a"}`,
		});
	return out;
}

function targetsTable(results) {
	return table(
		["Target", "Met", "Measured"],
		targets(results).map((t) => [
			t.target,
			t.met === null ? "n/a" : t.met ? "yes" : "**no**",
			t.detail,
		]),
	);
}

export function markdown(results) {
	const m = results.machine;
	const v = results.versions;
	const c = results.config;
	const parts = [
		"# Benchmark results",
		"",
		`${results.date.slice(0, 10)}, ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}; run took ${results.elapsedSeconds} s.`,
		"",
		`Node ${v.node}, miniflare ${v.miniflare}, workerd ${v.workerd}; ours ${v.ours}; original chat-state-cloudflare-do ${v.original}; agents ${v.agents}; @chat-adapter/state-memory ${v["@chat-adapter/state-memory"]}; chat ${v.chat}; @chat-adapter/web ${v["@chat-adapter/web"]}.`,
		"",
		`Each cell is the median of ${c.rounds} batches of about ${c.batchMs} ms, after a calibration batch; implementations take turns batch by batch. All objects run in one local workerd process, so these are local rates, not production ones.`,
		"",
		"## Targets",
		"",
		targetsTable(results),
		"",
	];
	for (const storage of c.storages) {
		parts.push(
			`## Throughput, ops/s, ${storage} storage`,
			"",
			throughputTable(results, storage),
			"",
		);
	}
	parts.push(
		`## Rows per op (${c.storages[0]}, 1 caller)`,
		"",
		"Counted from the SQL cursors' `rowsRead` and `rowsWritten`: ours by its own counters (`inspect`), the others by wrapping `sql.exec` in their object classes. agents' figures include its parent Agent's own rows.",
		"",
		rowsTable(results, c.storages[0]),
		"",
	);
	if (results.anatomy)
		parts.push(
			`## Anatomy of one call (${results.anatomy[0].storage})`,
			"",
			"Each row adds a piece of what an `isSubscribed` through a client costs; medians of interleaved batches. Differences under about 8 µs are within run-to-run noise on this machine.",
			"",
			anatomyTable(results),
			"",
		);
	for (const storage of c.storages)
		parts.push(
			`## Growth probe, ${storage} storage`,
			"",
			growthTable(results, storage),
			"",
		);
	parts.push(
		"## Alarm probe",
		"",
		"50 keys written with `set` and a 200 ms TTL, 10 ms apart, on a fresh object; counts since then.",
		"",
		alarmTable(results),
		"",
		"## One Chat message (`Chat` + `@chat-adapter/web`, drop strategy)",
		"",
		chatTable(results),
		"",
		"## Scale-out (16 channels; dedupe, history append, lock per message)",
		"",
		scaleTable(results),
		"",
		"## Cold start: a fresh object's first call (median)",
		"",
		"Wall time of one request to the benchmark Worker making one `isSubscribed` on a fresh object, then of a second one to the same object; the request itself costs about the no-op column's second figure.",
		"",
		coldTable(results),
		"",
	);
	if (results.wasm)
		parts.push(
			"## Wasm",
			"",
			`${int(results.wasm.rawBytes)} bytes, ${int(results.wasm.gzipBytes)} gzipped${results.wasm.optimized ? " (wasm-opt)" : " (not optimised: wasm-opt missing)"}.`,
			"",
		);
	return parts.join("\n");
}

/**
 * Grouped horizontal bars, log scale: one panel per storage and number of
 * callers, one group per phase, one bar per implementation.
 */
export function chart(results) {
	const impls = IMPLS.filter((i) => results.config.impls.includes(i));
	const { phases, concs, storages } = results.config;
	const values = results.throughput
		.filter((t) => t.supported && t.median > 0)
		.map((t) => t.median);
	const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
	const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
	const bar = 7;
	const group = impls.length * bar + 9;
	const labelW = 250;
	const plotW = 320;
	const panelW = plotW + 40;
	const panelH = phases.length * group + 40;
	const top = 58;
	const width = labelW + concs.length * panelW;
	const height = top + storages.length * panelH + 24;
	const x = (v) => (Math.log10(v / lo) / Math.log10(hi / lo)) * plotW;
	const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
	const tick = (t) =>
		t >= 1e6 ? `${t / 1e6}M` : t >= 1e3 ? `${t / 1e3}k` : String(t);
	const out = [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
		`<rect width="100%" height="100%" fill="white"/>`,
		`<text x="10" y="18" font-size="14" font-weight="bold">StateAdapter ops/s per phase, log scale (workerd via miniflare, ${results.machine.nproc} cores, ${results.date.slice(0, 10)})</text>`,
	];
	impls.forEach((impl, k) => {
		const lx = 10 + k * 130;
		out.push(
			`<rect x="${lx}" y="30" width="10" height="10" fill="${COLOR[impl]}"/>`,
			`<text x="${lx + 14}" y="39">${esc(LABEL[impl])}</text>`,
		);
	});
	storages.forEach((storage, r) => {
		const y0 = top + r * panelH + 16;
		phases.forEach((phase, i) => {
			out.push(
				`<text x="${labelW - 8}" y="${y0 + i * group + (impls.length * bar) / 2 + 4}" text-anchor="end">${esc(PHASES[phase].title)}</text>`,
			);
		});
		concs.forEach((conc, p) => {
			const x0 = labelW + p * panelW;
			const bottom = y0 + phases.length * group;
			out.push(
				`<text x="${x0}" y="${y0 - 6}" font-weight="bold">${esc(storage)} storage, ${conc} caller${conc > 1 ? "s" : ""}</text>`,
			);
			for (let t = lo; t <= hi; t *= 10) {
				const tx = x0 + x(t);
				out.push(
					`<line x1="${tx}" y1="${y0}" x2="${tx}" y2="${bottom}" stroke="#dee2e6"/>`,
					`<text x="${tx}" y="${bottom + 12}" text-anchor="middle" fill="#495057">${tick(t)}</text>`,
				);
			}
			phases.forEach((phase, i) => {
				impls.forEach((impl, k) => {
					const c = cell(results, storage, phase, conc, impl);
					const y = y0 + i * group + k * bar;
					if (c?.supported && c.median > 0)
						out.push(
							`<rect x="${x0}" y="${y}" width="${Math.max(1, x(c.median)).toFixed(1)}" height="${bar - 1}" fill="${COLOR[impl]}"><title>${esc(LABEL[impl])}: ${int(c.median)} ops/s</title></rect>`,
						);
					else
						out.push(
							`<text x="${x0 + 2}" y="${y + bar - 1}" font-size="7" fill="#868e96">n/a</text>`,
						);
				});
			});
		});
	});
	out.push(
		`<text x="10" y="${height - 8}" fill="#495057">One op of "acquireLock + releaseLock" or "enqueue + dequeue" is two calls; the no-op RPC bar makes as many calls per op. n/a: the original has no such method.</text>`,
		"</svg>",
	);
	return out.join("\n");
}

export function writeReport(results, dir) {
	results.targets = targets(results);
	writeFileSync(
		path.join(dir, "results.json"),
		`${JSON.stringify(results, null, "\t")}\n`,
	);
	writeFileSync(path.join(dir, "results.md"), `${markdown(results)}\n`);
	writeFileSync(path.join(dir, "chart.svg"), `${chart(results)}\n`);
}
