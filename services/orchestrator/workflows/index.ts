/** The worker's workflows entry: every function exported here is registered as a workflow type. */
export { executePlan } from "./execute-plan.ts";
