/**
 * Outside services that tools, verification and the orchestrator's
 * integration activities talk to (Linear is `approvals.linear`, shared by the
 * approvals service and the follow-up issues). Each is off until configured:
 * an integration activity whose connector is off does nothing and says so in
 * its result (null fields).
 */
import * as v from "valibot";
import { SecretRefSchema, url } from "./fields.ts";

export const ConnectorsConfigSchema = v.strictObject({
  github: v.optional(
    v.strictObject({
      api_base: v.optional(url, "https://api.github.com"),
      /** Pull requests are opened when this resolves to a token (unset variable: off). */
      token: v.optional(SecretRefSchema, "env:GITHUB_TOKEN"),
      /**
       * Where repositories are cloned from and pushed to: `owner/name` is `<git_base>/owner/name.git`
       * (https://github.com, or file:///srv/git for bare repositories on this machine).
       */
      git_base: v.optional(url, "https://github.com"),
      /** Author and committer of the commits a pull request's branch holds. */
      commit_author: v.optional(
        v.strictObject({
          name: v.optional(v.pipe(v.string(), v.minLength(1)), "Wheelhouse"),
          email: v.optional(v.pipe(v.string(), v.email()), "wheelhouse@users.noreply.github.com"),
        }),
        {},
      ),
    }),
    {},
  ),
  /**
   * Verification's Prometheus (QueryPrometheusActivity); on when `url` is set. `error_ratio`: how
   * template plans judge a release, deploy or rollback by the service's error ratio
   * (`<metric>{namespace,service,code=~"5.."}` over all its requests, in `rate_window`): measured
   * `count` times, every `interval_seconds`, after `initial_delay_seconds`; below `max` passes.
   */
  prometheus: v.optional(
    v.strictObject({
      url: v.optional(url),
      error_ratio: v.optional(
        v.strictObject({
          metric: v.optional(v.pipe(v.string(), v.regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/)), "http_requests_total"),
          max: v.optional(v.pipe(v.number(), v.gtValue(0), v.maxValue(1)), 0.05),
          rate_window: v.optional(v.pipe(v.string(), v.regex(/^\d+(ms|s|m|h)$/)), "1m"),
          initial_delay_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3600)), 30),
          interval_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3600)), 30),
          count: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)), 4),
          on_inconclusive: v.optional(v.picklist(["fail", "pause"]), "fail"),
        }),
        {},
      ),
    }),
    {},
  ),
  tempo: v.optional(v.strictObject({ url: v.optional(url) }), {}),
  /** Annotations and datasources; on when `url` is set. `token`: a service account token. */
  grafana: v.optional(v.strictObject({ url: v.optional(url), token: v.optional(SecretRefSchema) }), {}),
  pagerduty: v.optional(
    v.strictObject({
      /** The Events API v2 base (https://events.pagerduty.com when unset). */
      api_base: v.optional(url),
      /** A REST API token (not used by the Events API). */
      token: v.optional(SecretRefSchema),
      /** The Events API v2 integration key of the service to page; incidents are opened when it is set. */
      routing_key: v.optional(SecretRefSchema),
    }),
    {},
  ),
});
