// Errors that cross from the object to the caller keep a stable `code`,
// the same codes as the Rust error kinds.

/** An error of the state adapter, with a stable `code`. */
export class ChatStateError extends Error {
	constructor(code, message, options) {
		super(message, options);
		this.name = "ChatStateError";
		this.code = code;
	}
}

export function invalidArgument(method, reason) {
	return new ChatStateError(
		"invalid_argument",
		`invalid argument to ${method}: ${reason}`,
	);
}

export function notConnected() {
	return new ChatStateError(
		"not_connected",
		"CloudflareDOStateAdapter is not connected. Call connect() first.",
	);
}
