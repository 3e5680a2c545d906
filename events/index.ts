/** Public surface of the event definitions. */
export * from "./approval.ts";
export * from "./context.ts";
export * from "./envelope.ts";
export * from "./evidence.ts";
export * from "./execution.ts";
export * from "./plan.ts";
export * from "./policy.ts";
export * from "./registry.ts";
export * from "./signal.ts";
export * from "./storable.ts";
export * from "./tool-call.ts";
