// Counters for the peers, which keep none of their own: rows read and
// written by their SQL (from the cursors' own counters, as ChatStateDO
// counts), setAlarm calls and alarm runs, and calls per object name.

/** Fresh counters for one object instance. */
export function newCounters() {
	return {
		statements: 0,
		rowsRead: 0,
		rowsWritten: 0,
		setAlarmCalls: 0,
		alarmRuns: 0,
	};
}

/**
 * Wraps `ctx.storage.sql.exec` and `ctx.storage.setAlarm` of an object before
 * its class sees them. A cursor's `rowsRead` and `rowsWritten` are final once
 * it has been consumed, so cursors are kept and summed when counters are read
 * (`flush`); every caller consumes its cursor before its next statement.
 * Returns `exec`, the unwrapped method, for statements that must not count.
 */
export function instrument(ctx, counters) {
	const storage = ctx.storage;
	const sql = storage.sql;
	const exec = sql.exec;
	const open = [];
	sql.exec = function countedExec(...args) {
		const cursor = exec.apply(sql, args);
		counters.statements++;
		open.push(cursor);
		return cursor;
	};
	const setAlarm = storage.setAlarm;
	storage.setAlarm = function countedSetAlarm(...args) {
		counters.setAlarmCalls++;
		return setAlarm.apply(storage, args);
	};
	counters.flush = () => {
		for (const cursor of open) {
			counters.rowsRead += cursor.rowsRead;
			counters.rowsWritten += cursor.rowsWritten;
		}
		open.length = 0;
	};
	return (query, ...bindings) => exec.call(sql, query, ...bindings);
}

/** A plain copy of counters, flushed first. */
export function snapshot(counters) {
	counters.flush?.();
	const { flush, ...rest } = counters;
	return rest;
}

/**
 * A Durable Object namespace that counts calls per object name: both
 * adapters resolve `idFromName` once per call, on a fresh stub.
 */
export function countingNamespace(namespace, calls) {
	return {
		idFromName(name) {
			calls.set(name, (calls.get(name) ?? 0) + 1);
			return namespace.idFromName(name);
		},
		get: (id, options) => namespace.get(id, options),
		getByName: (name, options) => namespace.getByName(name, options),
		jurisdiction: (j) => countingNamespace(namespace.jurisdiction(j), calls),
	};
}
