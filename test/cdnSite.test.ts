import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { test } from "node:test";
import type { CdnConfig, Stage } from "../config/load";
import { CdnSite, objectCondition, type CdnPublisher } from "../components/cdnSite";
import { placeholderNumber } from "../scripts/mocks";
import { build, named, ofType, valueOf, type Built } from "./harness";

// Tests see the configuration, not Cloud CDN. Where a case depends on how Cloud CDN treats a
// response, the test asserts the configuration and quotes the documentation that makes it so.

const PROJECT = "acme-web-prod";
const CDN: CdnConfig = {
  bucket: "cdn-navi-com",
  adopt: false,
  location: "EU",
  domains: ["cdn.navi.example", "static.navi.example"],
  certificateAuthorization: "load-balancer",
  corsOrigins: ["https://app.navi.example"],
  latestPaths: ["/v1/*", "/v2/navi-loader.js"],
  immutableMaxAgeSeconds: 31536000,
  latestMaxAgeSeconds: 3600,
};
const PUBLISHERS: CdnPublisher[] = [
  { name: "navi-production", serviceAccountEmail: `ci-navi-production@${PROJECT}.iam.gserviceaccount.com` },
  { name: "navi-staging", serviceAccountEmail: `ci-navi-staging@${PROJECT}.iam.gserviceaccount.com` },
];
const FILL_AGENT = `serviceAccount:service-${placeholderNumber("project", PROJECT)}@cloud-cdn-fill.iam.gserviceaccount.com`;

const T = {
  bucket: "gcp:storage/bucket:Bucket",
  bucketMember: "gcp:storage/bucketIAMMember:BucketIAMMember",
  backend: "gcp:compute/backendBucket:BackendBucket",
  urlMap: "gcp:compute/uRLMap:URLMap",
  cert: "gcp:compute/managedSslCertificate:ManagedSslCertificate",
  sslPolicy: "gcp:compute/sSLPolicy:SSLPolicy",
  httpsProxy: "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
  httpProxy: "gcp:compute/targetHttpProxy:TargetHttpProxy",
  address: "gcp:compute/globalAddress:GlobalAddress",
  rule: "gcp:compute/globalForwardingRule:GlobalForwardingRule",
  customRole: "gcp:projects/iAMCustomRole:IAMCustomRole",
  signedUrlKey: "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey",
  projectMember: "gcp:projects/iAMMember:IAMMember",
  dnsAuthorization: "gcp:certificatemanager/dnsAuthorization:DnsAuthorization",
  cmCertificate: "gcp:certificatemanager/certificate:Certificate",
  certificateMap: "gcp:certificatemanager/certificateMap:CertificateMap",
  certificateMapEntry: "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry",
};

interface SiteOptions {
  cdn?: Partial<CdnConfig>;
  stage?: Stage;
  publishers?: CdnPublisher[];
}

/** The site with the default options, built once: the tests only read what it registered and returned. */
let defaultSite: ReturnType<typeof buildSite> | undefined;
function site(options: SiteOptions = {}) {
  if (Object.keys(options).length === 0) return (defaultSite ??= buildSite(options));
  return buildSite(options);
}

async function buildSite(options: SiteOptions) {
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
/** The backend buckets a URL map serves: not the one that only carries the key that creates the fill agent. */
const servedBackends = (resources: Built[]) => ofType(resources, T.backend).filter((r) => r.name !== "cdn-fill-agent");
const policyOf = (resources: Built[], kind: "immutable" | "latest") => obj(backendOf(resources, kind).plain.cdnPolicy);
const routeRules = (resources: Built[]) => list(obj(list(named(resources, T.urlMap, "cdn-url-map").plain.pathMatchers)[0]).routeRules).map(obj);
const roleOf = (resources: Built[], member: Built) => {
  const role = ofType(resources, T.customRole).find((r) => `projects/${PROJECT}/roles/${r.plain.roleId}` === member.plain.role);
  assert.ok(role, `no custom role ${String(member.plain.role)}`);
  return role;
};

// ---------------------------------------------------------------------------------------------
// The bucket

test("the bucket enforces public access prevention and uniform bucket-level access", async () => {
  const bucket = bucketOf((await site()).resources).plain;
  assert.equal(bucket.name, "cdn-navi-com");
  assert.equal(bucket.uniformBucketLevelAccess, true);
  assert.equal(bucket.publicAccessPrevention, "enforced");
});

test("the bucket keeps versions and deletes noncurrent generations on age alone, deleted objects included", async () => {
  const bucket = bucketOf((await site()).resources).plain;
  assert.deepEqual(bucket.versioning, { enabled: true });
  const rules = list(bucket.lifecycleRules).map(obj);
  assert.equal(rules.length, 1);
  assert.deepEqual(rules[0].action, { type: "Delete" });
  const condition = obj(rules[0].condition);
  assert.equal(condition.withState, "ARCHIVED", "only noncurrent generations are deleted");
  assert.ok(Number(condition.daysSinceNoncurrentTime) > 0);
  // A deleted object has no newer version: any numNewerVersions condition would keep it forever.
  assert.deepEqual(Object.keys(condition).sort(), ["daysSinceNoncurrentTime", "withState"]);
});

test("CORS allows only the configured origins, with GET and HEAD", async () => {
  const cors = list(bucketOf((await site()).resources).plain.cors).map(obj);
  assert.equal(cors.length, 1);
  assert.deepEqual(cors[0].origins, ["https://app.navi.example"]);
  assert.deepEqual(cors[0].methods, ["GET", "HEAD"]);
});

test("without configured origins the bucket has no CORS", async () => {
  assert.equal(bucketOf((await site({ cdn: { corsOrigins: [] } })).resources).plain.cors, undefined);
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

test("a new bucket has no CORS when corsOrigins is unset, and ignores no setting", async () => {
  const bucket = bucketOf((await site({ cdn: { corsOrigins: undefined } })).resources);
  assert.equal(bucket.plain.cors, undefined);
  assert.equal(bucket.plain.storageClass, "STANDARD");
  assert.deepEqual(bucket.ignoreChanges, []);
});

test("an adopted bucket keeps its storage class, CORS and every setting the program never sends until the stack file sets them", async () => {
  const unset = bucketOf((await site({ cdn: { adopt: true, corsOrigins: undefined } })).resources);
  assert.deepEqual(unset.ignoreChanges.sort(), [
    "autoclass",
    "cors",
    "customPlacementConfig",
    "defaultEventBasedHold",
    "enableObjectRetention",
    "encryption",
    "hierarchicalNamespace",
    "ipFilter",
    "logging",
    "requesterPays",
    "retentionPolicy",
    "rpo",
    "softDeletePolicy",
    "storageClass",
    "website",
  ]);
  const withCors = bucketOf((await site({ cdn: { adopt: true } })).resources);
  assert.ok(!withCors.ignoreChanges.includes("cors"));
  assert.deepEqual(list(withCors.plain.cors).map((c) => obj(c).origins), [["https://app.navi.example"]]);
});

test("an adopted bucket turns private only once the fill agent may read it, and the agent's signed URL key comes first", async () => {
  const { resources } = await site({ cdn: { adopt: true } });
  const bucket = bucketOf(resources);
  const fillRead = named(resources, T.bucketMember, "cdn-fill-read");
  const key = named(resources, T.signedUrlKey, "cdn-fill-agent-key");
  assert.equal(fillRead.plain.bucket, "cdn-navi-com");
  assert.ok(bucket.dependsOn.includes(fillRead.urn), "the bucket waits for the fill grant");
  assert.ok(fillRead.dependsOn.includes(key.urn), "the grant waits for the key that creates the agent");
  assert.ok(!fillRead.dependsOn.includes(bucket.urn));
});

test("a new bucket exists before its fill grant, which still waits for the agent's signed URL key", async () => {
  const { resources } = await site();
  const fillRead = named(resources, T.bucketMember, "cdn-fill-read");
  assert.ok(fillRead.dependsOn.includes(bucketOf(resources).urn));
  assert.ok(fillRead.dependsOn.includes(named(resources, T.signedUrlKey, "cdn-fill-agent-key").urn));
});

test("the signed URL key that creates the fill agent sits on a CDN backend of the bucket that no URL map serves, with a secret value kept once made", async () => {
  const { resources } = await site();
  const agentBackend = named(resources, T.backend, "cdn-fill-agent");
  assert.equal(agentBackend.plain.bucketName, "cdn-navi-com");
  assert.equal(agentBackend.plain.enableCdn, true);
  const key = named(resources, T.signedUrlKey, "cdn-fill-agent-key");
  assert.equal(key.plain.backendBucket, agentBackend.plain.name);
  assert.equal(key.plain.keyValue, "[secret]");
  assert.deepEqual(key.ignoreChanges, ["keyValue"]);
  const served = JSON.stringify(ofType(resources, T.urlMap).map((m) => m.plain));
  assert.ok(!served.includes(`/backendBuckets/${String(agentBackend.plain.name)}`), "no URL map routes to the agent's backend");
});

// ---------------------------------------------------------------------------------------------
// Who reads

test("only Cloud CDN's fill service agent of the project reads the bucket, with get and never list", async () => {
  const { resources } = await site();
  const readers = ofType(resources, T.bucketMember).filter((r) => r.plain.member === FILL_AGENT);
  assert.equal(readers.length, 1);
  assert.equal(readers[0].plain.bucket, "cdn-navi-com");
  assert.equal(readers[0].plain.condition, undefined);
  // storage.objects.list would make a request for the bucket root a listing of every object.
  assert.deepEqual(roleOf(resources, readers[0]).plain.permissions, ["storage.objects.get"]);
});

test("no binding grants a public or wildcard principal", async () => {
  const { resources } = await site();
  const bindings = resources.filter((r) => r.custom && "member" in r.plain);
  assert.ok(bindings.length >= 6);
  const wildcard = /^(allUsers|allAuthenticatedUsers)$|principalSet:|\*/;
  assert.deepEqual(bindings.filter((r) => wildcard.test(String(r.plain.member))).map((r) => r.name), []);
});

test("a request naming a generation is redirected to the current object, on every host and before any other rule", async () => {
  const { resources } = await site();
  assert.deepEqual(named(resources, T.urlMap, "cdn-url-map").plain.hostRules, [{ hosts: ["*"], pathMatcher: "paths" }]);
  const rules = routeRules(resources);
  const first = rules.reduce((a, b) => (Number(a.priority) <= Number(b.priority) ? a : b));
  assert.deepEqual(first.matchRules, [{ prefixMatch: "/", queryParameterMatches: [{ name: "generation", presentMatch: true }] }]);
  assert.deepEqual(first.urlRedirect, { redirectResponseCode: "FOUND", stripQuery: true });
  assert.equal(first.service, undefined);
});

// ---------------------------------------------------------------------------------------------
// Cache headers per path class and status

test("versioned paths keep their uploaded Cache-Control, immutable included, clamped to one year at the edge and in browsers", async () => {
  const { resources } = await site();
  const backend = backendOf(resources, "immutable").plain;
  assert.equal(backend.enableCdn, true);
  assert.equal(backend.bucketName, "cdn-navi-com");
  const policy = policyOf(resources, "immutable");
  // "CACHE_ALL_STATIC: ... Origin responses that set valid caching directives are also cached"
  // and, unlike FORCE_CACHE_ALL, the header reaches the client as uploaded (https://cloud.google.com/cdn/docs/caching).
  assert.equal(policy.cacheMode, "CACHE_ALL_STATIC");
  // Max TTL is "used when ... The TTL specified in the origin header is greater than the max TTL value".
  assert.equal(policy.maxTtl, 31536000);
  // "client_ttl clamps the max-age from the origin (if specified)" (cdnPolicy.clientTtl).
  assert.equal(policy.clientTtl, 31536000);
});

test("latest paths stay at the edge and in browsers at most latestMaxAgeSeconds, even when uploaded with a longer max-age", async () => {
  const { resources } = await site();
  assert.equal(backendOf(resources, "latest").plain.bucketName, "cdn-navi-com");
  const policy = policyOf(resources, "latest");
  assert.equal(policy.cacheMode, "CACHE_ALL_STATIC");
  // An uploaded max-age=31536000 is capped to maxTtl at the edge and clientTtl in the browser.
  assert.equal(policy.maxTtl, 3600);
  assert.equal(policy.clientTtl, 3600);
  assert.ok(Number(policy.defaultTtl) <= 3600);
});

test("no backend adds a Cache-Control response header, which the load balancer would send with 404s too", async () => {
  // Custom response headers are "Headers that the Application Load Balancer should add to proxied
  // responses": every response, whatever its status.
  for (const backend of servedBackends((await site()).resources)) {
    assert.ok(!list(backend.plain.customResponseHeaders ?? []).some((h) => /^cache-control\s*:/i.test(String(h))), backend.name);
  }
});

test("a response without a TTL of its own, a 404 included, stays at most a minute at the edge and in browsers", async () => {
  for (const kind of ["immutable", "latest"] as const) {
    const policy = policyOf((await site()).resources, kind);
    // clientTtl "sets the response max-age directive to the lesser of the client_ttl and default_ttl"
    // when the origin sets none (cdnPolicy.clientTtl).
    assert.ok(Number(policy.defaultTtl) <= 60, `${kind}: defaultTtl ${policy.defaultTtl}`);
    // "When the cache mode is set to CACHE_ALL_STATIC ... negative caching applies to responses with
    // the specified response code that lack any Cache-Control, Expires, or Pragma: no-cache directives"
    // (cdnPolicy.negativeCaching).
    assert.equal(policy.negativeCaching, true, kind);
    const notFound = list(policy.negativeCachingPolicies).map(obj).filter((p) => p.code === 404);
    assert.equal(notFound.length, 1, kind);
    assert.ok(Number(notFound[0].ttl) > 0 && Number(notFound[0].ttl) <= 60, `${kind}: 404 TTL ${notFound[0].ttl}`);
  }
});

test("a max age shorter than a minute keeps defaultTtl within maxTtl, as the API requires", async () => {
  const policy = policyOf((await site({ cdn: { latestMaxAgeSeconds: 30 } })).resources, "latest");
  assert.equal(policy.maxTtl, 30);
  assert.equal(policy.defaultTtl, 30);
});

test("the cache policy follows the configured max ages", async () => {
  const { resources } = await site({ cdn: { immutableMaxAgeSeconds: 86400, latestMaxAgeSeconds: 300 } });
  assert.deepEqual([policyOf(resources, "immutable").maxTtl, policyOf(resources, "immutable").clientTtl], [86400, 86400]);
  assert.deepEqual([policyOf(resources, "latest").maxTtl, policyOf(resources, "latest").clientTtl], [300, 300]);
});

test("no backend sends TTL fields the API rejects for its cache mode", async () => {
  const backends = servedBackends((await site()).resources);
  assert.equal(backends.length, 2);
  for (const backend of backends) {
    const policy = obj(backend.plain.cdnPolicy);
    if (policy.cacheMode === "USE_ORIGIN_HEADERS") {
      for (const ttl of ["defaultTtl", "maxTtl", "clientTtl"]) assert.equal(policy[ttl], undefined, `${backend.name}: ${ttl} with USE_ORIGIN_HEADERS`);
    }
    if (policy.cacheMode !== "CACHE_ALL_STATIC") assert.equal(policy.maxTtl, undefined, `${backend.name}: maxTtl is only accepted with CACHE_ALL_STATIC`);
    assert.ok(Number(policy.defaultTtl) <= Number(policy.maxTtl), `${backend.name}: defaultTtl above maxTtl`);
  }
});

test("every backend compresses text responses, coalesces requests and serves stale content while revalidating", async () => {
  for (const backend of servedBackends((await site()).resources)) {
    assert.equal(backend.plain.compressionMode, "AUTOMATIC", backend.name);
    const policy = obj(backend.plain.cdnPolicy);
    assert.equal(policy.requestCoalescing, true, backend.name);
    assert.ok(Number(policy.serveWhileStale) > 0, backend.name);
  }
});

// ---------------------------------------------------------------------------------------------
// Routing

test("latest paths route to the short-lived backend on every host, everything else to the immutable one", async () => {
  const { resources } = await site();
  const map = named(resources, T.urlMap, "cdn-url-map").plain;
  const immutable = selfLink("backendBuckets", "cdn-navi-com-immutable");
  assert.equal(map.defaultService, immutable);
  const [matcher] = list(map.pathMatchers).map(obj);
  assert.equal(matcher.defaultService, immutable);
  const toLatest = routeRules(resources).filter((r) => r.service === selfLink("backendBuckets", "cdn-navi-com-latest"));
  assert.equal(toLatest.length, 1);
  assert.deepEqual(toLatest[0].matchRules, [{ prefixMatch: "/v1/" }, { fullPathMatch: "/v2/navi-loader.js" }]);
});

test("the URL map carries API-checked tests that each latest path reaches the short-lived backend", async () => {
  const tests = list(named((await site()).resources, T.urlMap, "cdn-url-map").plain.tests).map(obj);
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
  assert.deepEqual(servedBackends(resources).map((r) => r.name), ["cdn-immutable"]);
  const map = named(resources, T.urlMap, "cdn-url-map").plain;
  assert.equal(map.defaultService, selfLink("backendBuckets", "cdn-navi-com-immutable"));
  assert.deepEqual(routeRules(resources).map((r) => r.service), [undefined], "only the generation redirect");
  assert.equal(map.tests, undefined);
});

// ---------------------------------------------------------------------------------------------
// HTTPS

test("HTTPS on :443 serves the URL map with every domain's certificate and a TLS 1.2+ SSL policy", async () => {
  const { resources } = await site();
  assert.equal(named(resources, T.address, "cdn-address").plain.ipVersion, "IPV4");
  const rule = named(resources, T.rule, "cdn-https-rule").plain;
  assert.equal(rule.portRange, "443");
  assert.equal(rule.ipAddress, "203.0.113.10");
  assert.equal(rule.target, selfLink("targetHttpsProxies", "cdn-navi-com-https-proxy"));
  const proxy = named(resources, T.httpsProxy, "cdn-https-proxy").plain;
  assert.equal(proxy.urlMap, selfLink("urlMaps", "cdn-navi-com-map"));
  assert.deepEqual(
    proxy.sslCertificates,
    CDN.domains.map((domain) => selfLink("sslCertificates", String(named(resources, T.cert, `cdn-certificates-${domain}`).plain.name))),
  );
  assert.equal(proxy.certificateMap, undefined);
  const policy = named(resources, T.sslPolicy, "cdn-ssl-policy").plain;
  assert.equal(proxy.sslPolicy, `projects/${PROJECT}/global/sslPolicies/${policy.name}`);
  assert.equal(policy.profile, "MODERN");
  assert.equal(policy.minTlsVersion, "TLS_1_2");
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
    CDN.domains.map((domain) => [`cdn-certificates-${domain}`, { domains: [domain] }]),
  );
  const names = certificates.map((c) => String(c.plain.name));
  assert.equal(new Set(names).size, names.length);
  for (const certName of names) assert.match(certName, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
});

test("managed certificates keep their state: each aliases the name it had as a child of the site", async () => {
  const { resources } = await site();
  const siteUrn = resources.find((r) => r.type === "release-infra:gcp:CdnSite")?.urn;
  for (const domain of CDN.domains) {
    const former = `${String(siteUrn).replace("release-infra:gcp:CdnSite::cdn", "release-infra:gcp:CdnSite$gcp:compute/managedSslCertificate:ManagedSslCertificate::")}cdn-certificate-${domain}`;
    assert.ok(named(resources, T.cert, `cdn-certificates-${domain}`).aliases.includes(former), `${domain}: ${named(resources, T.cert, `cdn-certificates-${domain}`).aliases.join(", ")}`);
  }
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
  const added = named(after, T.cert, "cdn-certificates-assets.navi.example").plain;
  assert.deepEqual(added.managed, { domains: ["assets.navi.example"] });
  assert.deepEqual(named(after, T.httpsProxy, "cdn-https-proxy").plain.sslCertificates, [
    ...list(named(before, T.httpsProxy, "cdn-https-proxy").plain.sslCertificates),
    selfLink("sslCertificates", String(added.name)),
  ]);
});

test("removing a domain leaves the remaining certificate untouched", async () => {
  const certificate = (resources: Built[]) => {
    const c = named(resources, T.cert, "cdn-certificates-static.navi.example");
    return [c.urn, c.plain.name, c.plain.managed];
  };
  const after = (await site({ cdn: { domains: ["static.navi.example"] } })).resources;
  assert.deepEqual(certificate(after), certificate((await site()).resources));
  assert.equal(ofType(after, T.cert).length, 1);
});

test("with DNS authorization each domain gets a DNS-authorized Certificate Manager certificate and no load-balancer certificate", async () => {
  const { resources } = await site({ cdn: { certificateAuthorization: "dns" } });
  assert.deepEqual(ofType(resources, T.cert), []);
  for (const domain of CDN.domains) {
    const authorization = named(resources, T.dnsAuthorization, `cdn-certificates-dns-authorization-${domain}`);
    assert.equal(authorization.plain.domain, domain);
    const certificate = named(resources, T.cmCertificate, `cdn-certificates-certificate-${domain}`).plain;
    assert.deepEqual(certificate.managed, {
      domains: [domain],
      dnsAuthorizations: [`projects/${PROJECT}/locations/global/dnsAuthorizations/${authorization.plain.name}`],
    });
    const entry = named(resources, T.certificateMapEntry, `cdn-certificates-map-entry-${domain}`).plain;
    assert.equal(entry.hostname, domain);
    assert.deepEqual(entry.certificates, [`projects/${PROJECT}/locations/global/certificates/${certificate.name}`]);
    assert.equal(entry.map, named(resources, T.certificateMap, "cdn-certificates-map").plain.name);
  }
  for (const r of [...ofType(resources, T.dnsAuthorization), ...ofType(resources, T.cmCertificate), ...ofType(resources, T.certificateMapEntry)]) {
    assert.match(String(r.plain.name), /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
  }
});

test("in prod the address the domains point at and every DNS authorization are protected; outside prod they are not", async () => {
  const protectedOf = (resources: Built[]) => [named(resources, T.address, "cdn-address"), ...ofType(resources, T.dnsAuthorization)].map((r) => r.protect);
  assert.deepEqual(protectedOf((await site({ stage: "prod", cdn: { certificateAuthorization: "dns" } })).resources), [true, true, true]);
  assert.deepEqual(protectedOf((await site({ stage: "dev", cdn: { certificateAuthorization: "dns" } })).resources), [false, false, false]);
});

test("two long bucket names with a common start get distinct custom role ids of at most 64 characters in one project", async () => {
  const long = (suffix: string) => `assets-of-the-release-pipeline-for-the-acme-organisation-${suffix}`;
  const { resources } = await build(() =>
    ["first", "second"].map((suffix) => new CdnSite(`cdn-${suffix}`, { cdn: { ...CDN, bucket: long(suffix) }, project: PROJECT, stage: "dev", labels: {}, publishers: PUBLISHERS })),
  );
  const ids = ofType(resources, T.customRole).map((r) => String(r.plain.roleId));
  assert.equal(ids.length, 4);
  assert.equal(new Set(ids).size, 4);
  for (const id of ids) assert.match(id, /^[a-zA-Z0-9_.]{3,64}$/);
});

test("a custom role id that fits keeps the id it always had", async () => {
  const ids = ofType((await site()).resources, T.customRole).map((r) => r.plain.roleId).sort();
  assert.deepEqual(ids, ["cdnFill_cdn_navi_com", "cdnInvalidator_cdn_navi_com"]);
});

test("with DNS authorization the proxy serves the certificate map, once every entry exists", async () => {
  const { resources } = await site({ cdn: { certificateAuthorization: "dns" } });
  const proxy = named(resources, T.httpsProxy, "cdn-https-proxy");
  const map = named(resources, T.certificateMap, "cdn-certificates-map");
  assert.equal(proxy.plain.certificateMap, `//certificatemanager.googleapis.com/projects/${PROJECT}/locations/global/certificateMaps/${map.plain.name}`);
  assert.equal(proxy.plain.sslCertificates, undefined);
  for (const entry of ofType(resources, T.certificateMapEntry)) assert.ok(proxy.dependsOn.includes(entry.urn), entry.name);
});

test("with DNS authorization the DNS records list each authorization CNAME before the A records", async () => {
  const { result } = await site({ cdn: { certificateAuthorization: "dns" } });
  assert.deepEqual(await valueOf(result.dnsRecords), [
    ...CDN.domains.map((d) => ({ name: `_acme-challenge.${d}.`, type: "CNAME", data: `<authorization of ${d}>.authorize.certificatemanager.goog.` })),
    ...CDN.domains.map((d) => ({ name: `${d}.`, type: "A", data: "203.0.113.10" })),
  ]);
});

test("with load-balancer authorization the DNS records are the A records alone", async () => {
  const { result } = await site();
  assert.deepEqual(await valueOf(result.dnsRecords), CDN.domains.map((d) => ({ name: `${d}.`, type: "A", data: "203.0.113.10" })));
});

// ---------------------------------------------------------------------------------------------
// Publishers

test("each publisher may create objects in this bucket, which cannot replace a released version", async () => {
  const { resources } = await site();
  const creators = ofType(resources, T.bucketMember).filter((r) => r.plain.role === "roles/storage.objectCreator");
  assert.deepEqual(
    creators.map((r) => [r.plain.bucket, r.plain.member, r.plain.condition]),
    PUBLISHERS.map((p) => ["cdn-navi-com", `serviceAccount:${p.serviceAccountEmail}`, undefined]),
  );
  // objectCreator lacks storage.objects.delete, which replacing an object needs; the only other
  // object grants a publisher holds are the conditioned ones below.
  const others = ofType(resources, T.bucketMember).filter((r) => PUBLISHERS.some((p) => r.plain.member === `serviceAccount:${p.serviceAccountEmail}`) && r.plain.role !== "roles/storage.objectCreator");
  assert.ok(others.every((r) => r.plain.condition !== undefined));
  assert.ok(ofType(resources, T.projectMember).every((r) => !String(r.plain.role).startsWith("roles/storage.")));
});

test("each publisher may replace and delete only the objects behind latestPaths", async () => {
  const { resources } = await site();
  const admins = ofType(resources, T.bucketMember).filter((r) => r.plain.role === "roles/storage.objectAdmin");
  assert.deepEqual(
    admins.map((r) => [r.plain.member, obj(r.plain.condition).expression]),
    PUBLISHERS.map((p) => [
      `serviceAccount:${p.serviceAccountEmail}`,
      'resource.name.startsWith("projects/_/buckets/cdn-navi-com/objects/v1/") || resource.name == "projects/_/buckets/cdn-navi-com/objects/v2/navi-loader.js"',
    ]),
  );
});

test("without latest paths no publisher may replace any object", async () => {
  const { resources } = await site({ cdn: { latestPaths: [] } });
  assert.deepEqual(ofType(resources, T.bucketMember).filter((r) => r.plain.role === "roles/storage.objectAdmin"), []);
});

test("an object condition turns URL path patterns into object-name tests", () => {
  assert.equal(objectCondition("b", ["/v1/*"]), 'resource.name.startsWith("projects/_/buckets/b/objects/v1/")');
  assert.equal(objectCondition("b", ["/loader.js"]), 'resource.name == "projects/_/buckets/b/objects/loader.js"');
  assert.equal(objectCondition("b", ["/*"]), 'resource.name.startsWith("projects/_/buckets/b/objects/")');
});

test("each publisher may invalidate this URL map only, with what gcloud's --async invalidation calls", async () => {
  const { resources } = await site();
  const grants = ofType(resources, T.projectMember);
  assert.deepEqual(
    grants.map((r) => [r.plain.project, r.plain.member, obj(r.plain.condition).expression]),
    PUBLISHERS.map((p) => [PROJECT, `serviceAccount:${p.serviceAccountEmail}`, `resource.name == "projects/${PROJECT}/global/urlMaps/cdn-navi-com-map"`]),
  );
  for (const grant of grants) assert.deepEqual([...list(roleOf(resources, grant).plain.permissions)].sort(), ["compute.urlMaps.get", "compute.urlMaps.invalidateCache"]);
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

// ---------------------------------------------------------------------------------------------
// A bucket that exists already (adoption)

const GET_BUCKET = "gcp:storage/getBucket:getBucket";
// These tests run the stack "prod".
const IMPORT_STEPS = "npm run plan -- --stack prod --import-file prod-import.json, then pulumi import --file prod-import.json --stack prod --generate-code=false (docs/migration.md)";
/** How a failed invoke reaches the program: the provider's error text in `details` (@pulumi/pulumi runtime/invoke.js). */
const storageError = (text: string) => () => {
  throw Object.assign(new Error(text), { details: text });
};

async function bucketTakeOver(getBucket: () => Record<string, unknown>, options: { adopt?: boolean; inState?: string[] } = {}) {
  const { result } = await build(
    () => new CdnSite("cdn", { cdn: { ...CDN, adopt: options.adopt ?? false }, project: PROJECT, stage: "prod", labels: {}, publishers: PUBLISHERS, managedBefore: [] }),
    { stack: "prod", preview: true, calls: { [GET_BUCKET]: getBucket }, inState: options.inState },
  );
  return valueOf(result.takeOverProblems);
}

test("in a preview, an existing bucket the config does not adopt is reported with the key that adopts it", async () => {
  assert.deepEqual(await bucketTakeOver(() => ({ id: "cdn-navi-com", name: "cdn-navi-com", project: PROJECT })), [
    `Cloud Storage bucket cdn-navi-com (bucket names are global: it may be another project's) exists already and this stack does not manage it: set release-infra:cdn.adopt: true and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("another project's bucket (the storage API answers 403) is reported like an existing one: the create would get 409", async () => {
  const problems = await bucketTakeOver(storageError("googleapi: Error 403: ci@acme.iam.gserviceaccount.com does not have storage.buckets.get access to the Google Cloud Storage bucket., forbidden"));
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^Cloud Storage bucket cdn-navi-com .* exists already/);
});

test("a free bucket name (404) and a bucket in the stack's state are not reported", async () => {
  assert.deepEqual(await bucketTakeOver(storageError("googleapi: Error 404: The specified bucket does not exist., notFound")), []);
  assert.deepEqual(await bucketTakeOver(() => ({ id: "cdn-navi-com", name: "cdn-navi-com" }), { inState: ["cdn-bucket"] }), []);
});

test("an adopted bucket is imported by its bare name, the id the provider keeps after a read (so a second import skips it)", async () => {
  const { result } = await build(() => new CdnSite("cdn", { cdn: { ...CDN, adopt: true }, project: PROJECT, stage: "prod", labels: {}, publishers: PUBLISHERS }), { stack: "prod" });
  assert.deepEqual(await Promise.all(result.adoptions.map((a) => valueOf(pulumi.output(a.importId)))), ["cdn-navi-com"]);
});
