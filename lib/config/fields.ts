/** Field shapes every configuration section uses: secret references, ports, counts and URLs. */
import * as v from "valibot";

/** `env:NAME` or `file:/absolute/or/relative/path`. */
export const SecretRefSchema = v.pipe(
  v.string(),
  v.regex(
    /^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/,
    "must be a secret reference, not a literal secret: write `env:VAR_NAME` or `file:/path/to/secret`",
  ),
);
export type SecretRef = v.InferOutput<typeof SecretRefSchema>;

export const port = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535));
export const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
export const url = v.pipe(v.string(), v.url("must be an absolute URL such as http://127.0.0.1:4222"));
