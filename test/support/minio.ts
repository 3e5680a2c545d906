/** MinIO for a test: a client on the local stack's MinIO, bucket names of the test's own, and their removal. */
import { Client } from "minio";
import { testEnv } from "./env.ts";
import { uniqueName } from "./names.ts";

/** A client on the local stack's MinIO, as its root user. */
export function minioClient(): Client {
  return new Client({ ...testEnv.minio });
}

/** `t-<label>-<random>`: a valid, unused S3 bucket name (lower-case letters, digits and hyphens). */
export function uniqueBucketName(label: string): string {
  return uniqueName(`t-${label}`).replaceAll("_", "-");
}

/**
 * Removes each of `buckets` with every object version in it (locked versions too: the governance
 * bypass, which the stack's user holds); a bucket that does not exist is fine.
 */
export async function removeBuckets(client: Client, ...buckets: string[]): Promise<void> {
  for (const bucket of buckets) {
    if (!(await client.bucketExists(bucket))) continue;
    const versions: { name: string; versionId?: string | null }[] = [];
    for await (const item of client.listObjects(bucket, "", true, { IncludeVersion: true })) {
      versions.push(item as { name: string; versionId?: string | null });
    }
    for (const v of versions) {
      await client.removeObject(bucket, v.name, { versionId: v.versionId ?? "null", governanceBypass: true });
    }
    await client.removeBucket(bucket);
  }
}
