export { CloudflareDOStateAdapter, createCloudflareState } from "./client.js";
export { ChatStateDO } from "./durable-object.js";
export { ChatStateError } from "./errors.js";
export { byChannel, fnv1a32, Router } from "./routing.js";
