export { ChatStateDO } from "./durable-object.js";
export { CloudflareDOStateAdapter, createCloudflareState } from "./client.js";
export { ChatStateError } from "./errors.js";
export { byChannel, fnv1a32, Router } from "./routing.js";
