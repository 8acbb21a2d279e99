import * as pulumi from "@pulumi/pulumi";
import * as compute from "@pulumi/gcp/compute";
import * as projects from "@pulumi/gcp/projects";
import * as storage from "@pulumi/gcp/storage";
import type { CdnConfig, Stage } from "../config/load";
import { gcpName, shortHash } from "./names";

/** What `gcloud compute url-maps invalidate-cdn-cache` needs (https://cloud.google.com/cdn/docs/invalidating-cached-content). */
export const INVALIDATION_PERMISSIONS = ["compute.urlMaps.get", "compute.urlMaps.invalidateCache", "compute.urlMaps.list"];

/** A 404 stays at the edge one minute, so a version requested before its upload is not pinned (Cloud CDN allows up to 1800 s). */
const NOT_FOUND_TTL_SECONDS = 60;
/** Serve a stale copy while revalidating or while the bucket errors, for up to a day (Cloud CDN's default; https://cloud.google.com/cdn/docs/serving-stale-content). */
const SERVE_WHILE_STALE_SECONDS = 86_400;
/** A noncurrent generation is deleted once it is this old and this many newer ones exist: a few stay for rollback. */
const NONCURRENT_RETENTION_DAYS = 30;
const KEEP_NONCURRENT_GENERATIONS = 3;

/** A CI identity that publishes to the site. */
export interface CdnPublisher {
  /** Stable key naming its grants, e.g. `navi-production` (repository-environment). */
  name: string;
  /** The publisher's service account. */
  serviceAccountEmail: pulumi.Input<string>;
}

export interface CdnSiteArgs {
  /** The stack's `release-infra:cdn` section. */
  cdn: CdnConfig;
  /** GCP project of the bucket, load balancer and invalidation role (`gcp:project`). */
  project: string;
  /** `prod` protects the bucket and never lets Pulumi delete its objects. */
  stage: Stage;
  /** GCP labels on every resource that takes them. */
  labels: Record<string, string>;
  /** CI service accounts that upload objects and invalidate the cache. */
  publishers: CdnPublisher[];
}

/** A concrete request path that `pattern` (a URL-map path pattern) matches, for URL-map tests. */
function samplePath(pattern: string): string {
  return pattern.endsWith("/*") ? `${pattern.slice(0, -1)}release-infra-probe.js` : pattern;
}

/**
 * Versioned JavaScript bundles on Cloud Storage behind Cloud CDN, with the cache headers enforced
 * by the edge: versioned paths `public, max-age=<immutableMaxAgeSeconds>, immutable`, `latestPaths`
 * `public, max-age=<latestMaxAgeSeconds>`, whatever metadata an uploader sets.
 */
export class CdnSite extends pulumi.ComponentResource {
  /** The bucket; resolves once public read and every publisher's upload right exist. */
  public readonly bucketName: pulumi.Output<string>;
  /** URL map to invalidate; resolves once every publisher may invalidate it. */
  public readonly urlMapName: pulumi.Output<string>;
  /** `https://<first domain>`. */
  public readonly baseUrl: pulumi.Output<string>;
  /** The global IPv4 address the domains' DNS records must point at. */
  public readonly ipAddress: pulumi.Output<string>;

  constructor(name: string, args: CdnSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:gcp:CdnSite", name, args, opts);
    const { cdn, project, labels } = args;
    const prod = args.stage === "prod";
    // Compute names derive from the bucket name: globally unique, so sites never collide in a project.
    const resourceName = (suffix: string) => gcpName(`${cdn.bucket}-${suffix}`, 63);

    const bucket = new storage.Bucket(
      `${name}-bucket`,
      {
        name: cdn.bucket,
        project,
        location: cdn.location,
        storageClass: "STANDARD",
        labels,
        uniformBucketLevelAccess: true,
        // "inherited", not "enforced": enforced prevention blocks the allUsers grant below.
        publicAccessPrevention: "inherited",
        versioning: { enabled: true },
        lifecycleRules: [
          {
            action: { type: "Delete" },
            condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: NONCURRENT_RETENTION_DAYS, numNewerVersions: KEEP_NONCURRENT_GENERATIONS },
          },
        ],
        // Buckets have no CORS by default; a plain <script src> needs none.
        cors: cdn.corsOrigins.length > 0
          ? [{ origins: cdn.corsOrigins, methods: ["GET", "HEAD"], responseHeaders: ["Content-Type"], maxAgeSeconds: 3600 }]
          : undefined,
        // Outside prod `pulumi destroy` may delete a versioned bucket with its objects.
        forceDestroy: !prod,
      },
      { parent: this, protect: prod },
    );

    // Public read, the way Google's backend-bucket guide sets it up: allUsers may read objects
    // (https://cloud.google.com/cdn/docs/setting-up-cdn-with-bucket). Private bucket access
    // (https://cloud.google.com/cdn/docs/configure-private-bucket-access) would close direct reads,
    // but its service-agent grant is not verified here, and the bundles are public anyway.
    // Consequence: objects are also readable at storage.googleapis.com, without the
    // edge's cache headers; an org policy enforcing public access prevention makes this grant fail.
    const publicRead = new storage.BucketIAMMember(
      `${name}-public-read`,
      { bucket: bucket.name, role: "roles/storage.objectViewer", member: "allUsers" },
      { parent: this },
    );

    // Cache policy per path class, enforced by the edge:
    // - FORCE_CACHE_ALL ignores the origin's Cache-Control (https://cloud.google.com/cdn/docs/caching#cache-modes);
    //   defaultTtl then "will overwrite the TTL set in all responses", so an object stays at the edge
    //   at most that long, and the client gets "the lesser of client_ttl and default_ttl ... for the
    //   response max-age directive, along with a public directive" (cdnPolicy.clientTtl,
    //   https://cloud.google.com/compute/docs/reference/rest/v1/backendBuckets;
    //   https://cloud.google.com/cdn/docs/using-ttl-overrides). Both equal the class's max age.
    // - No maxTtl: the API takes it only with CACHE_ALL_STATIC ("max_ttl must be specified with
    //   CACHE_ALL_STATIC cache_mode only": hashicorp/terraform-provider-google#16935, magic-modules#9777).
    // - Not USE_ORIGIN_HEADERS: it leaves the headers to the uploader, and the bridged provider
    //   sends a defaultTtl the API rejects in that mode (pulumi/pulumi-gcp#711).
    // - customResponseHeaders adds `immutable`, which Cloud CDN never writes; the load balancer sets
    //   it before returning the response (https://cloud.google.com/load-balancing/docs/https/custom-headers-global;
    //   a custom Cache-Control response header on a CDN backend is suggested in imjasonh/gcping#1).
    //   It repeats the max-age FORCE_CACHE_ALL writes, so the directives agree whether the header
    //   is replaced or appended. It also lands on 404s: the edge keeps those NOT_FOUND_TTL_SECONDS, a
    //   browser may keep them for max-age, so CI uploads a version before anything references it.
    const backend = (kind: string, maxAge: number, immutable: boolean) =>
      new compute.BackendBucket(
        `${name}-${kind}`,
        {
          name: resourceName(kind),
          project,
          description: `${cdn.bucket}: ${kind} objects, Cache-Control public, max-age=${maxAge}${immutable ? ", immutable" : ""}`,
          bucketName: bucket.name,
          enableCdn: true,
          cdnPolicy: {
            cacheMode: "FORCE_CACHE_ALL",
            defaultTtl: maxAge,
            clientTtl: maxAge,
            requestCoalescing: true,
            negativeCaching: true,
            negativeCachingPolicies: [{ code: 404, ttl: NOT_FOUND_TTL_SECONDS }],
            serveWhileStale: SERVE_WHILE_STALE_SECONDS,
          },
          customResponseHeaders: [`Cache-Control: public, max-age=${maxAge}${immutable ? ", immutable" : ""}`],
        },
        { parent: this },
      );
    const immutableBackend = backend("immutable", cdn.immutableMaxAgeSeconds, true);
    const latestBackend = cdn.latestPaths.length > 0 ? backend("latest", cdn.latestMaxAgeSeconds, false) : undefined;

    const urlMap = new compute.URLMap(
      `${name}-url-map`,
      {
        name: resourceName("map"),
        project,
        description: `${cdn.bucket}: latest pointers short-lived, everything else immutable`,
        defaultService: immutableBackend.selfLink,
        ...(latestBackend && {
          // Every host: a request by IP or another Host header must not get a pointer cached for a year.
          hostRules: [{ hosts: ["*"], pathMatcher: "latest-pointers" }],
          pathMatchers: [
            {
              name: "latest-pointers",
              defaultService: immutableBackend.selfLink,
              pathRules: [{ paths: cdn.latestPaths, service: latestBackend.selfLink }],
            },
          ],
          // The API rejects a URL map whose tests fail: each latest path provably reaches the short-lived backend.
          tests: cdn.latestPaths.map((pattern) => ({
            description: `${pattern} is a latest pointer`,
            host: cdn.domains[0],
            path: samplePath(pattern),
            service: latestBackend.selfLink,
          })),
        }),
      },
      { parent: this },
    );

    // One certificate per domain: adding or removing a domain creates or deletes only that domain's
    // certificate, while the others stay ACTIVE on the proxy. A single certificate for all domains
    // would be replaced, and its successor stays PROVISIONING until attached and resolvable, so
    // HTTPS would break for the unchanged domains too. A target HTTPS proxy takes at most 15.
    const certificates = cdn.domains.map(
      (domain) =>
        new compute.ManagedSslCertificate(
          `${name}-certificate-${domain}`,
          { name: resourceName(`cert-${shortHash(domain)}`), project, managed: { domains: [domain] } },
          { parent: this },
        ),
    );
    const httpsProxy = new compute.TargetHttpsProxy(
      `${name}-https-proxy`,
      { name: resourceName("https-proxy"), project, urlMap: urlMap.selfLink, sslCertificates: certificates.map((c) => c.selfLink) },
      { parent: this },
    );
    const address = new compute.GlobalAddress(
      `${name}-address`,
      { name: resourceName("address"), project, ipVersion: "IPV4", labels },
      { parent: this },
    );
    // EXTERNAL_MANAGED: the global external Application Load Balancer (terraform-google-lb-http's default).
    const forwardingRule = (kind: string, port: string, target: pulumi.Input<string>) =>
      new compute.GlobalForwardingRule(
        `${name}-${kind}-rule`,
        {
          name: resourceName(kind),
          project,
          loadBalancingScheme: "EXTERNAL_MANAGED",
          ipProtocol: "TCP",
          ipAddress: address.address,
          portRange: port,
          target,
          labels,
        },
        { parent: this },
      );
    forwardingRule("https", "443", httpsProxy.selfLink);

    const redirectMap = new compute.URLMap(
      `${name}-redirect-map`,
      {
        name: resourceName("redirect"),
        project,
        description: `${cdn.bucket}: HTTP to HTTPS`,
        defaultUrlRedirect: { httpsRedirect: true, redirectResponseCode: "MOVED_PERMANENTLY_DEFAULT", stripQuery: false },
      },
      { parent: this },
    );
    const httpProxy = new compute.TargetHttpProxy(
      `${name}-http-proxy`,
      { name: resourceName("http-proxy"), project, urlMap: redirectMap.selfLink },
      { parent: this },
    );
    forwardingRule("http", "80", httpProxy.selfLink);

    const uploadGrants = args.publishers.map(
      (p) =>
        new storage.BucketIAMMember(
          `${name}-publisher-${p.name}`,
          { bucket: bucket.name, role: "roles/storage.objectAdmin", member: pulumi.interpolate`serviceAccount:${p.serviceAccountEmail}` },
          { parent: this },
        ),
    );

    // Role ids: 3-64 of [a-zA-Z0-9_.]; deterministic, since a deleted role's id stays reserved for 37 days
    // (https://cloud.google.com/iam/docs/creating-custom-roles#deleting-custom-role).
    const invalidator = new projects.IAMCustomRole(
      `${name}-invalidator-role`,
      {
        project,
        roleId: `cdnInvalidator_${cdn.bucket.replace(/-/g, "_")}`.slice(0, 64),
        title: `CDN cache invalidation (${cdn.bucket})`.slice(0, 100),
        description: "Invalidate Cloud CDN caches of URL maps (gcloud compute url-maps invalidate-cdn-cache)",
        permissions: INVALIDATION_PERMISSIONS,
        stage: "GA",
      },
      { parent: this },
    );
    // URL maps have no resource-level IAM policy, so the grant is on the project: a publisher may
    // invalidate any URL map of the project (and read them), nothing else.
    const invalidationGrants = args.publishers.map(
      (p) =>
        new projects.IAMMember(
          `${name}-invalidator-${p.name}`,
          { project, role: invalidator.name, member: pulumi.interpolate`serviceAccount:${p.serviceAccountEmail}` },
          { parent: this },
        ),
    );

    this.bucketName = pulumi.all([bucket.name, publicRead.id, ...uploadGrants.map((g) => g.id)]).apply(([bucketName]) => bucketName);
    this.urlMapName = pulumi.all([urlMap.name, ...invalidationGrants.map((g) => g.id)]).apply(([urlMapName]) => urlMapName);
    this.baseUrl = pulumi.output(`https://${cdn.domains[0]}`);
    this.ipAddress = address.address;

    this.registerOutputs({ bucketName: this.bucketName, urlMapName: this.urlMapName, baseUrl: this.baseUrl, ipAddress: this.ipAddress });
  }
}
