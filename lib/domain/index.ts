/** Aggregate deciders: the pure rules commands are checked against before anything is appended. */

export * from "./digest.ts";
export * from "./plan.ts";
