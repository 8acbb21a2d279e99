import assert from "node:assert/strict";
import { test } from "node:test";
import type { CdnConfig, Stage } from "../config/load";
import { CdnSite, type CdnPublisher } from "../components/cdnSite";
import { build, named, ofType, valueOf, type Built } from "./harness";

const PROJECT = "acme-web-prod";
const CDN: CdnConfig = {
  bucket: "cdn-navi-com",
  location: "EU",
  domains: ["cdn.navi.example", "static.navi.example"],
  corsOrigins: ["https://app.navi.example"],
  latestPaths: ["/v1/*", "/v2/navi-loader.js"],
  immutableMaxAgeSeconds: 31536000,
  latestMaxAgeSeconds: 3600,
};
const PUBLISHERS: CdnPublisher[] = [
  { name: "navi-production", serviceAccountEmail: `ci-navi-production@${PROJECT}.iam.gserviceaccount.com` },
  { name: "navi-staging", serviceAccountEmail: `ci-navi-staging@${PROJECT}.iam.gserviceaccount.com` },
];

const T = {
  bucket: "gcp:storage/bucket:Bucket",
  bucketMember: "gcp:storage/bucketIAMMember:BucketIAMMember",
  backend: "gcp:compute/backendBucket:BackendBucket",
  urlMap: "gcp:compute/uRLMap:URLMap",
  cert: "gcp:compute/managedSslCertificate:ManagedSslCertificate",
  httpsProxy: "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
  httpProxy: "gcp:compute/targetHttpProxy:TargetHttpProxy",
  address: "gcp:compute/globalAddress:GlobalAddress",
  rule: "gcp:compute/globalForwardingRule:GlobalForwardingRule",
  customRole: "gcp:projects/iAMCustomRole:IAMCustomRole",
  projectMember: "gcp:projects/iAMMember:IAMMember",
};

async function site(options: { cdn?: Partial<CdnConfig>; stage?: Stage; publishers?: CdnPublisher[] } = {}) {
  const stage = options.stage ?? "prod";
  return build(
    () =>
      new CdnSite("cdn", {
        cdn: { ...CDN, ...options.cdn },
        project: PROJECT,
        stage,
        labels: { team: "web" },
        publishers: options.publishers ?? PUBLISHERS,
      }),
    { stack: stage },
  );
}

type Json = Record<string, unknown>;
function obj(value: unknown): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) assert.fail(`expected an object, got ${JSON.stringify(value)}`);
  return Object.fromEntries(Object.entries(value));
}
const list = (value: unknown): unknown[] => {
  assert.ok(Array.isArray(value), `expected an array, got ${JSON.stringify(value)}`);
  return value;
};
const selfLink = (collection: string, name: string) => `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/${collection}/${name}`;
const bucketOf = (resources: Built[]) => named(resources, T.bucket, "cdn-bucket");
const backendOf = (resources: Built[], kind: "immutable" | "latest") => named(resources, T.backend, `cdn-${kind}`);

test("the bucket uses uniform bucket-level access and allows the public read grant", async () => {
  const { resources } = await site();
  const bucket = bucketOf(resources).plain;
  assert.equal(bucket.name, "cdn-navi-com");
  assert.equal(bucket.uniformBucketLevelAccess, true);
  assert.equal(bucket.publicAccessPrevention, "inherited");
});

test("the bucket keeps versions and expires old noncurrent generations, keeping a few", async () => {
  const { resources } = await site();
  const bucket = bucketOf(resources).plain;
  assert.deepEqual(bucket.versioning, { enabled: true });
  const rules = list(bucket.lifecycleRules).map(obj);
  assert.equal(rules.length, 1);
  assert.deepEqual(rules[0].action, { type: "Delete" });
  const condition = obj(rules[0].condition);
  assert.equal(condition.withState, "ARCHIVED", "only noncurrent generations are deleted");
  assert.ok(Number(condition.daysSinceNoncurrentTime) > 0);
  assert.ok(Number(condition.numNewerVersions) > 0);
});

test("CORS allows only the configured origins, with GET and HEAD", async () => {
  const { resources } = await site();
  const cors = list(bucketOf(resources).plain.cors).map(obj);
  assert.equal(cors.length, 1);
  assert.deepEqual(cors[0].origins, ["https://app.navi.example"]);
  assert.deepEqual(cors[0].methods, ["GET", "HEAD"]);
});

test("without configured origins the bucket has no CORS", async () => {
  const { resources } = await site({ cdn: { corsOrigins: [] } });
  assert.equal(bucketOf(resources).plain.cors, undefined);
});

test("versioned paths respond with public, max-age=31536000, immutable and stay at the edge up to a year", async () => {
  const { resources } = await site();
  const backend = backendOf(resources, "immutable").plain;
  assert.equal(backend.enableCdn, true);
  assert.equal(backend.bucketName, "cdn-navi-com");
  assert.deepEqual(backend.customResponseHeaders, ["Cache-Control: public, max-age=31536000, immutable"]);
  const policy = obj(backend.cdnPolicy);
  assert.equal(policy.cacheMode, "FORCE_CACHE_ALL", "origin metadata cannot change the policy");
  assert.equal(policy.defaultTtl, 31536000);
  assert.equal(policy.clientTtl, 31536000);
});

test("latest paths respond with public, max-age=3600 and stay at the edge at most an hour", async () => {
  const { resources } = await site();
  const backend = backendOf(resources, "latest").plain;
  assert.equal(backend.enableCdn, true);
  assert.equal(backend.bucketName, "cdn-navi-com");
  assert.deepEqual(backend.customResponseHeaders, ["Cache-Control: public, max-age=3600"]);
  const policy = obj(backend.cdnPolicy);
  assert.equal(policy.cacheMode, "FORCE_CACHE_ALL");
  assert.equal(policy.defaultTtl, 3600);
  assert.equal(policy.clientTtl, 3600);
});

test("the cache policy follows the configured max ages", async () => {
  const { resources } = await site({ cdn: { immutableMaxAgeSeconds: 86400, latestMaxAgeSeconds: 300 } });
  assert.deepEqual(backendOf(resources, "immutable").plain.customResponseHeaders, ["Cache-Control: public, max-age=86400, immutable"]);
  assert.deepEqual(backendOf(resources, "latest").plain.customResponseHeaders, ["Cache-Control: public, max-age=300"]);
  assert.equal(obj(backendOf(resources, "immutable").plain.cdnPolicy).defaultTtl, 86400);
  assert.equal(obj(backendOf(resources, "latest").plain.cdnPolicy).clientTtl, 300);
});

test("latest paths route to the short-lived backend on every host, everything else to the immutable one", async () => {
  const { resources } = await site();
  const map = named(resources, T.urlMap, "cdn-url-map").plain;
  const immutable = selfLink("backendBuckets", "cdn-navi-com-immutable");
  const latest = selfLink("backendBuckets", "cdn-navi-com-latest");
  assert.equal(map.defaultService, immutable);
  assert.deepEqual(map.hostRules, [{ hosts: ["*"], pathMatcher: "latest-pointers" }]);
  const [matcher] = list(map.pathMatchers).map(obj);
  assert.equal(matcher.name, "latest-pointers");
  assert.equal(matcher.defaultService, immutable);
  assert.deepEqual(matcher.pathRules, [{ paths: ["/v1/*", "/v2/navi-loader.js"], service: latest }]);
});

test("the URL map carries API-checked tests that each latest path reaches the short-lived backend", async () => {
  const { resources } = await site();
  const tests = list(named(resources, T.urlMap, "cdn-url-map").plain.tests).map(obj);
  const latest = selfLink("backendBuckets", "cdn-navi-com-latest");
  assert.deepEqual(
    tests.map((t) => [t.host, t.path, t.service]),
    [
      ["cdn.navi.example", "/v1/release-infra-probe.js", latest],
      ["cdn.navi.example", "/v2/navi-loader.js", latest],
    ],
  );
});

test("without latest paths every path is served by the immutable backend", async () => {
  const { resources } = await site({ cdn: { latestPaths: [] } });
  assert.deepEqual(ofType(resources, T.backend).map((r) => r.name), ["cdn-immutable"]);
  const map = named(resources, T.urlMap, "cdn-url-map").plain;
  assert.equal(map.defaultService, selfLink("backendBuckets", "cdn-navi-com-immutable"));
  assert.equal(map.pathMatchers, undefined);
  assert.equal(map.hostRules, undefined);
});

test("no backend sends TTL fields the API rejects for its cache mode", async () => {
  const { resources } = await site();
  const backends = ofType(resources, T.backend);
  assert.equal(backends.length, 2);
  for (const backend of backends) {
    const policy = obj(backend.plain.cdnPolicy);
    if (policy.cacheMode === "USE_ORIGIN_HEADERS") {
      for (const ttl of ["defaultTtl", "maxTtl", "clientTtl"]) assert.equal(policy[ttl], undefined, `${backend.name}: ${ttl} with USE_ORIGIN_HEADERS`);
    }
    if (policy.cacheMode !== "CACHE_ALL_STATIC") assert.equal(policy.maxTtl, undefined, `${backend.name}: maxTtl is only accepted with CACHE_ALL_STATIC`);
  }
});

test("every backend coalesces requests, caches 404s briefly and serves stale content while revalidating", async () => {
  const { resources } = await site();
  for (const backend of ofType(resources, T.backend)) {
    const policy = obj(backend.plain.cdnPolicy);
    assert.equal(policy.requestCoalescing, true, backend.name);
    assert.equal(policy.negativeCaching, true, backend.name);
    const notFound = list(policy.negativeCachingPolicies).map(obj).filter((p) => p.code === 404);
    assert.equal(notFound.length, 1, backend.name);
    assert.ok(Number(notFound[0].ttl) > 0 && Number(notFound[0].ttl) <= 300, `${backend.name}: 404 TTL ${notFound[0].ttl}`);
    assert.ok(Number(policy.serveWhileStale) > 0, backend.name);
  }
});

test("HTTPS on :443 serves the URL map with every domain's certificate", async () => {
  const { resources } = await site();
  const address = named(resources, T.address, "cdn-address").plain;
  assert.equal(address.ipVersion, "IPV4");
  const rule = named(resources, T.rule, "cdn-https-rule").plain;
  assert.equal(rule.portRange, "443");
  assert.equal(rule.ipAddress, "203.0.113.10");
  assert.equal(rule.target, selfLink("targetHttpsProxies", "cdn-navi-com-https-proxy"));
  const proxy = named(resources, T.httpsProxy, "cdn-https-proxy").plain;
  assert.equal(proxy.urlMap, selfLink("urlMaps", "cdn-navi-com-map"));
  assert.deepEqual(
    proxy.sslCertificates,
    CDN.domains.map((domain) => selfLink("sslCertificates", String(named(resources, T.cert, `cdn-certificate-${domain}`).plain.name))),
  );
});

test("HTTP on :80 of the same address redirects to HTTPS", async () => {
  const { resources } = await site();
  const rule = named(resources, T.rule, "cdn-http-rule").plain;
  assert.equal(rule.portRange, "80");
  assert.equal(rule.ipAddress, named(resources, T.rule, "cdn-https-rule").plain.ipAddress);
  assert.equal(rule.loadBalancingScheme, named(resources, T.rule, "cdn-https-rule").plain.loadBalancingScheme);
  assert.equal(rule.target, selfLink("targetHttpProxies", "cdn-navi-com-http-proxy"));
  const proxy = named(resources, T.httpProxy, "cdn-http-proxy").plain;
  assert.equal(proxy.urlMap, selfLink("urlMaps", "cdn-navi-com-redirect"));
  const redirect = named(resources, T.urlMap, "cdn-redirect-map").plain;
  assert.equal(obj(redirect.defaultUrlRedirect).httpsRedirect, true);
  assert.equal(redirect.defaultService, undefined);
});

test("every domain has a managed certificate of its own, with a valid and distinct name", async () => {
  const certificates = ofType((await site()).resources, T.cert);
  assert.deepEqual(
    certificates.map((c) => [c.name, c.plain.managed]),
    CDN.domains.map((domain) => [`cdn-certificate-${domain}`, { domains: [domain] }]),
  );
  const names = certificates.map((c) => String(c.plain.name));
  assert.equal(new Set(names).size, names.length);
  for (const certName of names) assert.match(certName, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
});

test("certificate names stay within 63 characters and distinct for a bucket name at the limit", async () => {
  const bucket = `cdn-${"a".repeat(55)}-com`;
  const names = ofType((await site({ cdn: { bucket } })).resources, T.cert).map((c) => String(c.plain.name));
  assert.equal(new Set(names).size, CDN.domains.length);
  for (const certName of names) assert.match(certName, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
});

test("adding a domain leaves the existing certificates untouched and adds one to the proxy", async () => {
  const certificates = (resources: Built[]) => ofType(resources, T.cert).map((c) => [c.urn, c.plain.name, c.plain.managed]);
  const before = (await site()).resources;
  const after = (await site({ cdn: { domains: [...CDN.domains, "assets.navi.example"] } })).resources;
  const kept = certificates(before);
  assert.deepEqual(certificates(after).slice(0, kept.length), kept);
  assert.equal(certificates(after).length, kept.length + 1);
  const added = named(after, T.cert, "cdn-certificate-assets.navi.example").plain;
  assert.deepEqual(added.managed, { domains: ["assets.navi.example"] });
  assert.deepEqual(named(after, T.httpsProxy, "cdn-https-proxy").plain.sslCertificates, [
    ...list(named(before, T.httpsProxy, "cdn-https-proxy").plain.sslCertificates),
    selfLink("sslCertificates", String(added.name)),
  ]);
});

test("removing a domain leaves the remaining certificate untouched", async () => {
  const certificate = (resources: Built[]) => {
    const c = named(resources, T.cert, "cdn-certificate-static.navi.example");
    return [c.urn, c.plain.name, c.plain.managed];
  };
  const after = (await site({ cdn: { domains: ["static.navi.example"] } })).resources;
  assert.deepEqual(certificate(after), certificate((await site()).resources));
  assert.equal(ofType(after, T.cert).length, 1);
});

test("in prod the bucket is protected and never force-destroyed", async () => {
  const bucket = bucketOf((await site({ stage: "prod" })).resources);
  assert.equal(bucket.protect, true);
  assert.equal(bucket.plain.forceDestroy, false);
});

test("outside prod the bucket is neither protected nor kept from destroy", async () => {
  const bucket = bucketOf((await site({ stage: "dev" })).resources);
  assert.equal(bucket.protect, false);
  assert.equal(bucket.plain.forceDestroy, true);
});

test("each publisher gets objectAdmin on this bucket only", async () => {
  const { resources } = await site();
  const admins = ofType(resources, T.bucketMember).filter((r) => r.plain.role === "roles/storage.objectAdmin");
  assert.deepEqual(
    admins.map((r) => [r.plain.bucket, r.plain.member]),
    PUBLISHERS.map((p) => ["cdn-navi-com", `serviceAccount:${p.serviceAccountEmail}`]),
  );
  // Nothing storage-related is granted on the project.
  assert.ok(ofType(resources, T.projectMember).every((r) => !String(r.plain.role).startsWith("roles/storage.")));
});

test("the invalidation role has exactly the three URL-map permissions and each publisher holds it", async () => {
  const { resources } = await site();
  const [role] = ofType(resources, T.customRole);
  assert.deepEqual([...list(role.plain.permissions)].sort(), ["compute.urlMaps.get", "compute.urlMaps.invalidateCache", "compute.urlMaps.list"]);
  const roleName = `projects/${PROJECT}/roles/${role.plain.roleId}`;
  assert.deepEqual(
    ofType(resources, T.projectMember).map((r) => [r.plain.project, r.plain.role, r.plain.member]),
    PUBLISHERS.map((p) => [PROJECT, roleName, `serviceAccount:${p.serviceAccountEmail}`]),
  );
});

test("no binding grants a wildcard principal except the documented public read of objects", async () => {
  const { resources } = await site();
  const bindings = resources.filter((r) => r.custom && "member" in r.plain);
  assert.ok(bindings.length >= 5);
  const wildcard = /^(allUsers|allAuthenticatedUsers)$|principalSet:|\*/;
  const broad = bindings.filter((r) => wildcard.test(String(r.plain.member)));
  assert.deepEqual(
    broad.map((r) => [r.type, r.plain.bucket, r.plain.role, r.plain.member]),
    [[T.bucketMember, "cdn-navi-com", "roles/storage.objectViewer", "allUsers"]],
  );
});

test("reordering publishers keeps every resource name", async () => {
  const urns = async (publishers: CdnPublisher[]) => (await site({ publishers })).resources.map((r) => r.urn).sort();
  assert.deepEqual(await urns(PUBLISHERS), await urns([...PUBLISHERS].reverse()));
});

test("outputs name the bucket, URL map, base URL and address", async () => {
  const { result } = await site();
  assert.equal(await valueOf(result.bucketName), "cdn-navi-com");
  assert.equal(await valueOf(result.urlMapName), "cdn-navi-com-map");
  assert.equal(await valueOf(result.baseUrl), "https://cdn.navi.example");
  assert.equal(await valueOf(result.ipAddress), "203.0.113.10");
});
