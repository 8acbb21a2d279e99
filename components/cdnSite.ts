import { randomBytes } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as compute from "@pulumi/gcp/compute";
import * as organizations from "@pulumi/gcp/organizations";
import * as projects from "@pulumi/gcp/projects";
import * as storage from "@pulumi/gcp/storage";
import type { CdnConfig, Stage } from "../config/load";
import { ownershipKey } from "../config/ownership";
import { keptWhenAdopted, type Adoption } from "./adoption";
import { CdnCertificates, type DnsRecord } from "./cdnCertificates";
import { cdnRoleId, gcpName } from "./names";
import { checksTakeOver, takeOverProblems } from "./takeOver";

/**
 * What `gcloud compute url-maps invalidate-cdn-cache URL_MAP --path=... --async` needs: it calls
 * urlMaps.invalidateCache on the map by name (googlecloudsdk's invalidate_cdn_cache.py builds
 * ComputeUrlMapsInvalidateCacheRequest from the name) and, with --async, does not poll
 * compute.globalOperations.get, which cannot be limited to one URL map. compute.urlMaps.get is
 * in Google's list (https://cloud.google.com/cdn/docs/invalidating-cached-content); compute.urlMaps.list
 * is not here: it is checked on the project, so a grant conditioned on this URL map never allows it.
 */
export const INVALIDATION_PERMISSIONS = ["compute.urlMaps.get", "compute.urlMaps.invalidateCache"];

/**
 * All Cloud CDN needs to fill its cache from the bucket: read an object. Not roles/storage.objectViewer,
 * whose storage.objects.list would make a request for the bucket root a listing of every object.
 */
export const FILL_PERMISSIONS = ["storage.objects.get"];

/**
 * The longest a response without a TTL of its own stays at the edge and in browsers: an object
 * uploaded without Cache-Control, or a 404 (Cloud CDN allows up to 1800 s for negative caching).
 */
const UNDECLARED_TTL_SECONDS = 60;
/** Serve a stale copy while revalidating or while the bucket errors, for up to a day (Cloud CDN's default; https://cloud.google.com/cdn/docs/serving-stale-content). */
const SERVE_WHILE_STALE_SECONDS = 86_400;
/** Noncurrent generations (overwritten latest pointers, deleted objects) are deleted once this old, whatever else exists: a rollback window, no more. */
const NONCURRENT_RETENTION_DAYS = 30;

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
  /** `prod` protects the bucket, the address and DNS authorizations, and never lets Pulumi delete the bucket's objects. */
  stage: Stage;
  /** GCP labels on every resource that takes them. */
  labels: Record<string, string>;
  /** CI service accounts that upload objects and invalidate the cache. */
  publishers: CdnPublisher[];
  /**
   * The stack's `managed` output of its last update. With it, a preview reports the bucket in
   * `takeOverProblems` when it exists (bucket names are global) and is not the stack's own;
   * without it nothing is checked.
   */
  managedBefore?: pulumi.Input<string[]>;
  /** false: the pipeline stack beside this one defines the custom roles (cdnCustomRoleArgs), so no deploy identity administers roles. */
  definesCustomRoles?: boolean;
}

/**
 * The custom roles of a bucket's site: what Cloud CDN's cache fill and the publishers' cache
 * invalidation may do. Defined by the CDN stack itself, or, with a pipeline stack beside it, by
 * the pipeline stack, so the CDN stack's writer needs no role administration (it could add any
 * permission to the invalidation role, which its conditioned Project IAM Admin may grant).
 */
export function cdnCustomRoleArgs(project: string, bucket: string): { fill: projects.IAMCustomRoleArgs; invalidator: projects.IAMCustomRoleArgs } {
  return {
    fill: {
      project,
      roleId: cdnRoleId("cdnFill", bucket),
      title: `Cloud CDN cache fill (${bucket})`.slice(0, 100),
      description: "Read objects, never list them: what Cloud CDN's cache fill needs",
      permissions: FILL_PERMISSIONS,
      stage: "GA",
    },
    invalidator: {
      project,
      roleId: cdnRoleId("cdnInvalidator", bucket),
      title: `CDN cache invalidation (${bucket})`.slice(0, 100),
      description: "Invalidate the Cloud CDN cache of a URL map (gcloud compute url-maps invalidate-cdn-cache --async)",
      permissions: INVALIDATION_PERMISSIONS,
      stage: "GA",
    },
  };
}

/** A concrete request path that `pattern` (a URL-map path pattern) matches, for URL-map tests. */
function samplePath(pattern: string): string {
  return pattern.endsWith("/*") ? `${pattern.slice(0, -1)}release-infra-probe.js` : pattern;
}

/** The route-rule match of a `latestPaths` pattern: `/v1/*` is the prefix `/v1/`, anything else one path. */
function pathMatch(pattern: string): { prefixMatch: string } | { fullPathMatch: string } {
  return pattern.endsWith("/*") ? { prefixMatch: pattern.slice(0, -1) } : { fullPathMatch: pattern };
}

/**
 * The IAM condition (CEL) that limits a bucket grant to the objects behind `patterns`: object
 * resource names are `projects/_/buckets/BUCKET/objects/OBJECT`
 * (https://cloud.google.com/storage/docs/access-control/iam#conditions), and the object of URL
 * path `/v1/x.js` is `v1/x.js`.
 */
export function objectCondition(bucket: string, patterns: string[]): string {
  const objects = `projects/_/buckets/${bucket}/objects/`;
  return patterns
    .map((pattern) => {
      const match = pathMatch(pattern);
      return "prefixMatch" in match
        ? `resource.name.startsWith(${JSON.stringify(objects + match.prefixMatch.slice(1))})`
        : `resource.name == ${JSON.stringify(objects + match.fullPathMatch.slice(1))}`;
    })
    .join(" || ");
}

/**
 * Versioned JavaScript bundles on a private Cloud Storage bucket behind Cloud CDN.
 *
 * Cache headers: the publishing job uploads versioned objects with `Cache-Control: public,
 * max-age=<immutableMaxAgeSeconds>, immutable` and latest pointers with `public,
 * max-age=<latestMaxAgeSeconds>`; the CDN passes them through, clamped per path class, and adds
 * no Cache-Control of its own, so an error response never carries a versioned object's header.
 * Reads: only Cloud CDN's fill service agent may read objects (get, never list); the bucket
 * enforces public access prevention. Publishers create objects, and overwrite only latest pointers.
 */
export class CdnSite extends pulumi.ComponentResource {
  /** The bucket; resolves once the CDN may read it and every publisher's upload rights exist. */
  public readonly bucketName: pulumi.Output<string>;
  /** URL map to invalidate; resolves once every publisher may invalidate it. */
  public readonly urlMapName: pulumi.Output<string>;
  /** `https://<first domain>`. */
  public readonly baseUrl: pulumi.Output<string>;
  /** The global IPv4 address the domains' DNS records must point at. */
  public readonly ipAddress: pulumi.Output<string>;
  /** DNS records to create, in order: certificate authorization CNAMEs (dns), then each domain's A record. */
  public readonly dnsRecords: pulumi.Output<DnsRecord[]>;
  /** The bucket when it is adopted (import id `<project>/<bucket>`). */
  public readonly adoptions: Adoption[] = [];
  /** In a preview: the bucket, when it exists and is not this stack's (components/takeOver.ts). */
  public readonly takeOverProblems: pulumi.Output<string[]>;

  constructor(name: string, args: CdnSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    // Not the last update's `managed` list: it changes with the first update, and as a recorded input
    // it showed an update in the preview right after `up` (found by the engine runs, docs/engine.md).
    const { managedBefore: _managedBefore, ...inputs } = args;
    super("release-infra:gcp:CdnSite", name, inputs, opts);
    const { cdn, project, labels } = args;
    const prod = args.stage === "prod";
    // Compute names derive from the bucket name: globally unique, so sites never collide in a project.
    const resourceName = (suffix: string) => gcpName(`${cdn.bucket}-${suffix}`, 63);

    // Private bucket access: Cloud CDN fills its cache as the project's Cloud CDN service agent
    // (https://cloud.google.com/cdn/docs/configure-private-bucket-access), which may only get
    // objects. Public access prevention does not apply to it; domain-restricted sharing does
    // (docs/deploying.md says what to do).
    const projectNumber = organizations.getProjectOutput({ projectId: project }, { parent: this }).number;
    const roles = cdnCustomRoleArgs(project, cdn.bucket);
    const definesRoles = args.definesCustomRoles ?? true;
    // The role's full name (`projects/P/roles/ID`), whoever defines it.
    const customRole = (key: "fill" | "invalidator", suffix: string): pulumi.Output<string> =>
      definesRoles ? new projects.IAMCustomRole(`${name}-${suffix}`, roles[key], { parent: this }).name : pulumi.output(`projects/${project}/roles/${cdnRoleId(key === "fill" ? "cdnFill" : "cdnInvalidator", cdn.bucket)}`);
    const fillRole = customRole("fill", "fill-role");
    // An adopted bucket exists before the update: its fill grant is made first, by name, and the
    // bucket turns private only after it, so the CDN never loses read access. A new bucket comes first.
    const createBucket = (dependsOn: pulumi.Resource[]) =>
      new storage.Bucket(
        `${name}-bucket`,
        {
          name: cdn.bucket,
          project,
          location: cdn.location,
          storageClass: "STANDARD",
          labels,
          // IAM only, which IAM conditions on object names also require.
          uniformBucketLevelAccess: true,
          // No allUsers or allAuthenticatedUsers grant can take effect: objects are readable only
          // through Cloud CDN, never at storage.googleapis.com (https://cloud.google.com/storage/docs/public-access-prevention).
          publicAccessPrevention: "enforced",
          versioning: { enabled: true },
          // Age alone: a deleted object has no newer version, so a numNewerVersions condition would keep it forever.
          lifecycleRules: [{ action: { type: "Delete" }, condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: NONCURRENT_RETENTION_DAYS } }],
          // Buckets have no CORS by default; a plain <script src> needs none.
          cors: cdn.corsOrigins?.length
            ? [{ origins: cdn.corsOrigins, methods: ["GET", "HEAD"], responseHeaders: ["Content-Type"], maxAgeSeconds: 3600 }]
            : undefined,
          // Outside prod `pulumi destroy` may delete a versioned bucket with its objects.
          forceDestroy: !prod,
        },
        {
          parent: this,
          protect: prod,
          dependsOn,
          // An adopted bucket keeps what the stack file does not set: its storage class and CORS
          // (config keys without a value), and what the program never sets, which the bridged
          // provider would otherwise remove (website, logging, retention policy, ...) or try to
          // change (placement, hierarchical namespace and object retention are fixed at creation).
          ignoreChanges: keptWhenAdopted(cdn.adopt, {
            storageClass: undefined,
            cors: cdn.corsOrigins,
            ...Object.fromEntries(
              ["autoclass", "customPlacementConfig", "defaultEventBasedHold", "enableObjectRetention", "encryption", "hierarchicalNamespace", "ipFilter", "logging", "requesterPays", "retentionPolicy", "rpo", "softDeletePolicy", "website"].map(
                (input) => [input, undefined],
              ),
            ),
          }),
        },
      );
    const created = cdn.adopt ? undefined : createBucket([]);
    const bucketRef = created ? created.name : cdn.bucket;

    // The fill agent exists only once Cloud CDN has created it, at a time Google does not document.
    // A signed URL key on a backend bucket creates it: Google's signed-URL setup adds the key before
    // granting the agent (https://cloud.google.com/cdn/docs/using-signed-urls), and public Terraform
    // configurations make the agent's grant wait for google_compute_backend_bucket_signed_url_key.
    // The key sits on a backend bucket of its own that no URL map serves, so no request to the site
    // is signed or needs a signature; its value is never used, hence random once and then kept.
    const agentBackend = new compute.BackendBucket(
      `${name}-fill-agent`,
      {
        name: resourceName("fill-agent"),
        project,
        description: `${cdn.bucket}: creates Cloud CDN's fill service agent (a signed URL key); serves no traffic`,
        bucketName: bucketRef,
        enableCdn: true,
      },
      { parent: this },
    );
    const agentKey = new compute.BackendBucketSignedUrlKey(
      `${name}-fill-agent-key`,
      { name: "fill-agent", project, backendBucket: agentBackend.name, keyValue: pulumi.secret(randomBytes(16).toString("base64url")) },
      { parent: this, ignoreChanges: ["keyValue"] },
    );
    const fillRead = new storage.BucketIAMMember(
      `${name}-fill-read`,
      { bucket: bucketRef, role: fillRole, member: pulumi.interpolate`serviceAccount:service-${projectNumber}@cloud-cdn-fill.iam.gserviceaccount.com` },
      { parent: this, dependsOn: [agentKey] },
    );
    const bucket = created ?? createBucket([fillRead]);

    // The bare name, as the provider stores the id after a read (resource_storage_bucket.go
    // d.SetId(res.Id)): `pulumi import` skips an entry already in state only when the ids are equal.
    if (cdn.adopt) this.adoptions.push({ resource: bucket, importId: cdn.bucket });
    // Its create would fail with 409. The storage API answers 404 for a free name and 403 for another
    // project's bucket; the data source fails on both with the API's error text ("googleapi: Error
    // 404: …, notFound": terraform-provider-google data_source_google_storage_bucket.go returns
    // Buckets.Get's error as it is).
    this.takeOverProblems = checksTakeOver(args.managedBefore)
      ? takeOverProblems(
          [
            {
              key: ownershipKey.bucket(cdn.bucket),
              what: `Cloud Storage bucket ${cdn.bucket} (bucket names are global: it may be another project's)`,
              adoptKey: "release-infra:cdn.adopt: true",
              adopted: cdn.adopt,
              exists: storage.getBucket({ name: cdn.bucket }, { parent: this }).then(
                () => true,
                (err: unknown) => !/\b404\b|notFound|not found/i.test(String(err)),
              ),
              resource: bucket,
            },
          ],
          args.managedBefore,
        )
      : pulumi.output([]);

    // Cache policy per path class. CACHE_ALL_STATIC, because it keeps the uploaded Cache-Control
    // (FORCE_CACHE_ALL would replace it, `immutable` included) and clamps it
    // (https://cloud.google.com/cdn/docs/using-ttl-overrides; cdnPolicy fields in
    // https://cloud.google.com/compute/docs/reference/rest/v1/backendBuckets):
    // - maxTtl caps an uploaded max-age at the edge: "Max TTL ... used when ... The TTL specified in
    //   the origin header is greater than the max TTL value";
    // - clientTtl caps it in browsers: "client_ttl clamps the max-age from the origin (if specified),
    //   or else sets the response max-age directive to the lesser of the client_ttl and default_ttl";
    // - so a response without a TTL of its own gets at most defaultTtl (UNDECLARED_TTL_SECONDS)
    //   wherever Cloud CDN treats it as cacheable, and a 404 is cached "only [if it lacks] any
    //   Cache-Control, Expires, or Pragma: no-cache directives", for its negative-caching TTL.
    // No customResponseHeaders: the load balancer adds them to every response, 404s included
    // (https://cloud.google.com/load-balancing/docs/https/custom-headers-global). Not
    // USE_ORIGIN_HEADERS: the API forbids TTLs with it and the bridged provider sends a defaultTtl
    // anyway (pulumi/pulumi-gcp#711); maxTtl is accepted with CACHE_ALL_STATIC only
    // (hashicorp/terraform-provider-google#16935).
    const backend = (kind: string, maxAge: number) =>
      new compute.BackendBucket(
        `${name}-${kind}`,
        {
          name: resourceName(kind),
          project,
          description: `${cdn.bucket}: ${kind} objects, cached at most ${maxAge} s at the edge and in browsers`,
          bucketName: bucket.name,
          enableCdn: true,
          // Gzip or Brotli by Accept-Encoding, so bundles need not be uploaded compressed.
          compressionMode: "AUTOMATIC",
          cdnPolicy: {
            cacheMode: "CACHE_ALL_STATIC",
            maxTtl: maxAge,
            clientTtl: maxAge,
            // The API wants defaultTtl <= maxTtl.
            defaultTtl: Math.min(UNDECLARED_TTL_SECONDS, maxAge),
            requestCoalescing: true,
            negativeCaching: true,
            negativeCachingPolicies: [{ code: 404, ttl: UNDECLARED_TTL_SECONDS }],
            serveWhileStale: SERVE_WHILE_STALE_SECONDS,
          },
        },
        { parent: this },
      );
    const immutableBackend = backend("immutable", cdn.immutableMaxAgeSeconds);
    const latestBackend = cdn.latestPaths.length > 0 ? backend("latest", cdn.latestMaxAgeSeconds) : undefined;

    const mapName = resourceName("map");
    const urlMap = new compute.URLMap(
      `${name}-url-map`,
      {
        name: mapName,
        project,
        description: `${cdn.bucket}: latest pointers short-lived, everything else immutable`,
        defaultService: immutableBackend.selfLink,
        // Every host: a request by IP or another Host header gets the same rules.
        hostRules: [{ hosts: ["*"], pathMatcher: "paths" }],
        pathMatchers: [
          {
            name: "paths",
            defaultService: immutableBackend.selfLink,
            routeRules: [
              // Cloud Storage serves any generation named by ?generation=, noncurrent ones included
              // (https://cloud.google.com/storage/docs/xml-api/get-object-download): such a request
              // is redirected to the same path without its query, the current object.
              {
                priority: 0,
                matchRules: [{ prefixMatch: "/", queryParameterMatches: [{ name: "generation", presentMatch: true }] }],
                urlRedirect: { stripQuery: true, redirectResponseCode: "FOUND" },
              },
              ...(latestBackend ? [{ priority: 1, matchRules: cdn.latestPaths.map(pathMatch), service: latestBackend.selfLink }] : []),
            ],
          },
        ],
        // The API rejects a URL map whose tests fail: each latest path provably reaches the short-lived backend.
        tests: latestBackend
          ? cdn.latestPaths.map((pattern) => ({
              description: `${pattern} is a latest pointer`,
              host: cdn.domains[0],
              path: samplePath(pattern),
              service: latestBackend.selfLink,
            }))
          : undefined,
      },
      { parent: this },
    );

    const certificates = new CdnCertificates(
      `${name}-certificates`,
      { domains: cdn.domains, authorization: cdn.certificateAuthorization, project, namePrefix: cdn.bucket, labels, protect: prod, formerSiteName: name },
      { parent: this },
    );
    // TLS 1.2 and later with MODERN's ciphers (COMPATIBLE, the default, allows TLS 1.0;
    // https://cloud.google.com/load-balancing/docs/ssl-policies-concepts).
    const sslPolicy = new compute.SSLPolicy(
      `${name}-ssl-policy`,
      { name: resourceName("ssl-policy"), project, profile: "MODERN", minTlsVersion: "TLS_1_2", description: `${cdn.bucket}: TLS 1.2+` },
      { parent: this },
    );
    const httpsProxy = new compute.TargetHttpsProxy(
      `${name}-https-proxy`,
      {
        name: resourceName("https-proxy"),
        project,
        urlMap: urlMap.selfLink,
        // By relative name, known before apply, so the policy pack can check it in a preview.
        sslPolicy: pulumi.interpolate`projects/${project}/global/sslPolicies/${sslPolicy.name}`,
        ...(certificates.certificateMap ? { certificateMap: certificates.certificateMap } : { sslCertificates: certificates.sslCertificates }),
      },
      { parent: this },
    );
    const address = new compute.GlobalAddress(
      `${name}-address`,
      { name: resourceName("address"), project, ipVersion: "IPV4", labels },
      // The domains' A records point at it: a new address is a new IP, and the site is offline until DNS follows.
      { parent: this, protect: prod },
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

    // Publishers create objects: roles/storage.objectCreator "does not give permission to view,
    // delete, or replace objects" (https://cloud.google.com/storage/docs/access-control/iam-roles),
    // and replacing an object needs storage.objects.delete, so a released version stays as
    // uploaded. Only latest pointers may be replaced: objectAdmin, conditioned on their names.
    const member = (p: CdnPublisher) => pulumi.interpolate`serviceAccount:${p.serviceAccountEmail}`;
    const uploadGrants = args.publishers.flatMap((p) => [
      new storage.BucketIAMMember(`${name}-publisher-${p.name}`, { bucket: bucket.name, role: "roles/storage.objectCreator", member: member(p) }, { parent: this }),
      ...(cdn.latestPaths.length > 0
        ? [
            new storage.BucketIAMMember(
              `${name}-publisher-${p.name}-latest`,
              {
                bucket: bucket.name,
                role: "roles/storage.objectAdmin",
                member: member(p),
                condition: {
                  title: "latest pointers only",
                  description: `Replace and delete only the objects behind ${cdn.latestPaths.join(", ")}`.slice(0, 256),
                  expression: objectCondition(cdn.bucket, cdn.latestPaths),
                },
              },
              { parent: this },
            ),
          ]
        : []),
    ]);

    const invalidator = customRole("invalidator", "invalidator-role");
    // URL maps have no IAM policy of their own (no setIamPolicy in the urlMaps API, no URL-map IAM
    // resource in the provider), so the grant is on the project with an IAM condition on the
    // resource name: this URL map only (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name).
    const invalidationGrants = args.publishers.map(
      (p) =>
        new projects.IAMMember(
          `${name}-invalidator-${p.name}`,
          {
            project,
            role: invalidator,
            member: member(p),
            condition: { title: "this URL map only", description: `Cache invalidation of ${mapName}`, expression: `resource.name == "projects/${project}/global/urlMaps/${mapName}"` },
          },
          { parent: this },
        ),
    );

    this.bucketName = pulumi.all([bucket.name, fillRead.id, ...uploadGrants.map((g) => g.id)]).apply(([bucketName]) => bucketName);
    this.urlMapName = pulumi.all([urlMap.name, ...invalidationGrants.map((g) => g.id)]).apply(([urlMapName]) => urlMapName);
    this.baseUrl = pulumi.output(`https://${cdn.domains[0]}`);
    this.ipAddress = address.address;
    // Authorization first: a dns certificate is ACTIVE before the A records move the domains here.
    this.dnsRecords = pulumi
      .all([certificates.authorizationRecords, address.address])
      .apply(([authorizations, ip]) => [...authorizations, ...cdn.domains.map((domain) => ({ name: `${domain}.`, type: "A", data: ip }))]);

    this.registerOutputs({ bucketName: this.bucketName, urlMapName: this.urlMapName, baseUrl: this.baseUrl, ipAddress: this.ipAddress, dnsRecords: this.dnsRecords });
  }
}
