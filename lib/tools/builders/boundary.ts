/** boundary: target listing and session authorisation. */
import { type BuildOptions, bool, req, unknownAction, validateToolInput } from "./input.ts";

/** `boundary …` for one catalog action. */
export function buildBoundaryCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`boundary.${action}`, rawInput, opts);
  switch (action) {
    case "targets_list":
      return [
        "boundary",
        "targets",
        "list",
        `-scope-id=${req(input, "scope_id")}`,
        ...(bool(input, "recursive", false) ? ["-recursive"] : []),
        "-format=json",
      ];
    case "targets_authorize_session":
      return ["boundary", "targets", "authorize-session", `-id=${req(input, "target_id")}`, "-format=json"];
    default:
      return unknownAction("boundary", action);
  }
}
