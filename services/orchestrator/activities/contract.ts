/**
 * The activities' side of the contract with the workflows. The types live beside the workflows
 * (workflows/activity-contract.ts), so that imports run one way: activities → workflows.
 */
export * from "../workflows/activity-contract.ts";
