import { z } from "zod";
import { pattern, strict, uniqueBy } from "./common";

/** `release-infra:cdn`: a Cloud Storage bucket of versioned bundles behind Cloud CDN. */

/** https://cloud.google.com/storage/docs/buckets#naming */
const bucketName = z.string().superRefine((name, ctx) => {
  const fail = (message: string) => ctx.addIssue({ code: "custom", message });
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) {
    fail("must use only lowercase letters, digits, '-', '_' and '.', and start and end with a letter or digit");
    return;
  }
  const parts = name.split(".");
  if (parts.length === 1 ? name.length < 3 || name.length > 63 : name.length > 222 || parts.some((p) => p.length < 1 || p.length > 63)) {
    fail("must be 3-63 characters (up to 222 with dots, each dot-separated part at most 63)");
  }
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) fail("must not look like an IP address");
  if (name.startsWith("goog")) fail(`must not start with "goog" (reserved by Google)`);
  if (/g[o0]{2}g[l1]e/.test(name)) fail(`must not contain "google" or a close misspelling`);
});

/** Cloud CDN TTLs are 0..31,622,400 s (one leap year). https://cloud.google.com/cdn/docs/using-ttl-overrides */
const CDN_MAX_TTL = 31_622_400;
const maxAge = z.number().int().min(0).max(CDN_MAX_TTL);

/** URL-map / cache-invalidation path patterns: start with '/', no '?' or '#', '*' only as a final '/*'. */
const urlPathPattern = pattern(
  /^\/[^?#*]*(\/\*)?$/,
  `must be a URL-map path pattern: start with "/", no "?" or "#", and "*" only as a final "/*" (e.g. "/v1/*")`,
);

const hostname = pattern(
  /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
  "must be a lowercase fully qualified domain name such as cdn.example.com",
);
const httpsOrigin = pattern(
  /^https:\/\/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(:\d{1,5})?$/,
  `must be an https origin without a path, e.g. "https://app.example.com"`,
);

export const cdn = strict({
  bucket: bucketName.describe("Cloud Storage bucket name (GCS naming rules; globally unique)."),
  adopt: z.boolean().default(false).describe("true: the bucket exists already (with its objects): import it instead of creating it; the load balancer pieces are new."),
  location: pattern(/^[A-Za-z0-9-]+$/, "must be a GCS location such as EU, US or europe-west1").describe(
    "GCS location: a multi-region (EU, US, ASIA), dual-region or region.",
  ),
  domains: z
    .array(hostname)
    .min(1, { message: "must list at least one domain for the managed certificate" })
    .max(15, { message: "a target HTTPS proxy takes at most 15 certificates (one per domain)" })
    .describe("Domains served over HTTPS, one Google-managed certificate each (at most 15); the first is the base URL."),
  certificateAuthorization: z
    .enum(["load-balancer", "dns"])
    .default("load-balancer")
    .describe(
      "How Google proves control of the domains before issuing their certificates. load-balancer (default): a Google-managed certificate on the proxy, issued only once each domain's DNS points at this load balancer, so a domain served elsewhere has no HTTPS here until then: for new domains. dns: a Certificate Manager certificate per domain with DNS authorization (a CNAME you create, output as cdn.dnsRecords), ACTIVE before DNS moves: for moving an existing domain without an HTTPS outage.",
    ),
  corsOrigins: z
    .array(httpsOrigin)
    .optional()
    .describe("Origins allowed to fetch objects cross-origin (GET, HEAD). Unset: none on a new bucket; an adopted bucket keeps its CORS as it is."),
  latestPaths: z.array(urlPathPattern).default([]).describe("Latest-pointer paths, cached briefly (e.g. /v1/*); everything else is versioned and immutable."),
  immutableMaxAgeSeconds: maxAge
    .default(31536000)
    .describe("The longest versioned paths are cached at the edge and in browsers, in seconds (at most one leap year); the publishing job uploads them with Cache-Control: public, max-age=<this>, immutable."),
  latestMaxAgeSeconds: maxAge
    .default(3600)
    .describe("The longest latestPaths are cached at the edge and in browsers, in seconds, whatever Cache-Control they were uploaded with; at most immutableMaxAgeSeconds."),
}).superRefine((c, ctx) => {
  if (c.latestMaxAgeSeconds > c.immutableMaxAgeSeconds) {
    ctx.addIssue({
      code: "custom",
      path: ["latestMaxAgeSeconds"],
      message: `(${c.latestMaxAgeSeconds}) must not exceed immutableMaxAgeSeconds (${c.immutableMaxAgeSeconds}): latest pointers are the short-lived ones`,
    });
  }
  uniqueBy(ctx, c.domains, (d) => d, (i) => ["domains", i], "domain");
});
