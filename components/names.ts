import { createHash } from "crypto";

/** The first `length` hex digits of the SHA-256 of `text`: a stable, short discriminator. */
export function shortHash(text: string, length = 8): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * `text` as an Azure resource name of at most `max` letters, digits, '-' and '_', starting with a
 * letter or digit. A hash suffix is added whenever characters had to change or be cut, so distinct
 * inputs stay distinct.
 */
export function azureName(text: string, max: number): string {
  if (text.length <= max && /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(text)) return text;
  const hash = shortHash(text);
  const cleaned = text.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^[-_]+/, "");
  return `${cleaned.slice(0, max - hash.length - 1)}-${hash}`;
}

/**
 * `text` as a GCP resource id of at most `max` characters matching `[a-z]([-a-z0-9]*[a-z0-9])?`
 * (RFC 1035 labels: Compute Engine names, service account ids, Workload Identity pool ids).
 * Returned unchanged when already valid; otherwise cleaned, cut and suffixed with a hash of the
 * original, so distinct inputs stay distinct and the result is stable across runs.
 */
export function gcpName(text: string, max: number): string {
  if (text.length <= max && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(text)) return text;
  const hash = shortHash(text, 6);
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, max - hash.length - 1)
    .replace(/-+$/, "");
  return `${cleaned || "x"}-${hash}`;
}

/** Custom role ids: 3-64 of [a-zA-Z0-9_.] (https://cloud.google.com/iam/docs/creating-custom-roles#naming-custom-roles). */
const ROLE_ID_MAX = 64;

/**
 * The id of a CDN site's custom GCP role (`cdnFill`, `cdnInvalidator`, ...) for a bucket,
 * deterministic, since a deleted role's id stays reserved for 37 days
 * (https://cloud.google.com/iam/docs/creating-custom-roles#deleting-custom-role). An id that fits
 * is kept as it always was; a longer one is cut and suffixed with a hash of the whole id, so two
 * long bucket names with a common start get distinct roles in one project.
 */
export function cdnRoleId(prefix: string, bucket: string): string {
  const id = `${prefix}_${bucket.replace(/-/g, "_")}`;
  if (id.length <= ROLE_ID_MAX) return id;
  const hash = shortHash(id);
  return `${id.slice(0, ROLE_ID_MAX - hash.length - 1)}_${hash}`;
}
