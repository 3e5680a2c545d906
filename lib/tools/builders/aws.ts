/** aws: caller identity, ECS services and Auto Scaling groups. */
import { type BuildOptions, bool, req, str, unknownAction, validateToolInput } from "./input.ts";

/** `aws …` for one catalog action; always pins `--region` and `--output=json`. */
export function buildAwsCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`aws.${action}`, rawInput, opts);
  const tail = [`--region=${req(input, "region")}`, "--output=json"];
  const profile = str(input, "profile");
  if (profile !== undefined) tail.push(`--profile=${profile}`);
  switch (action) {
    case "sts_get_caller_identity":
      return ["aws", "sts", "get-caller-identity", ...tail];
    case "ecs_describe_services":
      return [
        "aws",
        "ecs",
        "describe-services",
        `--cluster=${req(input, "cluster")}`,
        "--services",
        ...(input.services as string[]),
        ...tail,
      ];
    case "autoscaling_describe_groups":
      return [
        "aws",
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        ...(input.group_names as string[]),
        ...tail,
      ];
    case "ecs_update_service_desired_count":
      return [
        "aws",
        "ecs",
        "update-service",
        `--cluster=${req(input, "cluster")}`,
        `--service=${req(input, "service")}`,
        `--desired-count=${req(input, "desired_count")}`,
        ...tail,
      ];
    case "autoscaling_set_desired_capacity":
      return [
        "aws",
        "autoscaling",
        "set-desired-capacity",
        `--auto-scaling-group-name=${req(input, "group_name")}`,
        `--desired-capacity=${req(input, "desired_capacity")}`,
        bool(input, "honor_cooldown", true) ? "--honor-cooldown" : "--no-honor-cooldown",
        ...tail,
      ];
    default:
      return unknownAction("aws", action);
  }
}
