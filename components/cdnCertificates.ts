import * as pulumi from "@pulumi/pulumi";
import * as certificatemanager from "@pulumi/gcp/certificatemanager";
import * as compute from "@pulumi/gcp/compute";
import { gcpName, shortHash } from "./names";

/** A DNS record the domain's owner creates. */
export interface DnsRecord {
  /** Fully qualified, with the trailing dot. */
  name: string;
  type: string;
  data: string;
}

export interface CdnCertificatesArgs {
  /** Domains served over HTTPS; each gets a certificate of its own. */
  domains: string[];
  /** `load-balancer`: Google-managed SSL certificates; `dns`: Certificate Manager certificates with DNS authorization. */
  authorization: "load-balancer" | "dns";
  /** GCP project of the certificates. */
  project: string;
  /** Prefix of every Google-side name (the bucket name), so several sites can share a project. */
  namePrefix: string;
  /** GCP labels on every resource that takes them. */
  labels: Record<string, string>;
  /** Protect the DNS authorizations (prod): a new one has another CNAME, and until DNS carries it no certificate renews. */
  protect: boolean;
  /** Name of the CdnSite whose children the managed certificates were before this component existed (`<site>-certificate-<domain>`). */
  formerSiteName: string;
}

/**
 * The certificates of a CdnSite's HTTPS proxy. One certificate per domain: adding or removing a
 * domain creates or deletes only that domain's certificate while the others stay ACTIVE (a single
 * certificate for all domains would be replaced, and its successor is not ACTIVE at once).
 *
 * - `load-balancer`: a Google-managed SSL certificate per domain on the proxy. Google issues it only
 *   once the domain resolves to the load balancer (https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs),
 *   so a domain still served elsewhere has no HTTPS here until DNS has moved: fine for new domains.
 * - `dns`: a Certificate Manager certificate per domain, authorized by a CNAME under
 *   `_acme-challenge.<domain>` (DnsAuthorization), served through a certificate map. It becomes
 *   ACTIVE while the domain still points elsewhere, so DNS moves only once HTTPS works here
 *   (https://cloud.google.com/certificate-manager/docs/dns-authorizations).
 */
export class CdnCertificates extends pulumi.ComponentResource {
  /** The proxy's `sslCertificates` (load-balancer), else empty. */
  public readonly sslCertificates: pulumi.Output<string>[];
  /** The proxy's `certificateMap` (dns), resolving once every map entry exists; else undefined. */
  public readonly certificateMap: pulumi.Output<string> | undefined;
  /** The CNAMEs that authorize the dns certificates, one per domain; none with load-balancer. */
  public readonly authorizationRecords: pulumi.Output<DnsRecord[]>;

  constructor(name: string, args: CdnCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:gcp:CdnCertificates", name, args, opts);
    const { domains, project, labels } = args;
    const resourceName = (suffix: string) => gcpName(`${args.namePrefix}-${suffix}`, 63);

    if (args.authorization === "load-balancer") {
      // These were children of the CdnSite, named `<site>-certificate-<domain>`, before this
      // component existed: the alias keeps them, so no certificate of a live domain is re-provisioned.
      this.sslCertificates = domains.map(
        (domain) =>
          new compute.ManagedSslCertificate(
            `${name}-${domain}`,
            { name: resourceName(`cert-${shortHash(domain)}`), project, managed: { domains: [domain] } },
            { parent: this, aliases: [{ name: `${args.formerSiteName}-certificate-${domain}`, parent: opts?.parent }] },
          ).selfLink,
      );
      this.certificateMap = undefined;
      this.authorizationRecords = pulumi.output([]);
    } else {
      const authorizations = domains.map(
        (domain) =>
          new certificatemanager.DnsAuthorization(
            `${name}-dns-authorization-${domain}`,
            { name: resourceName(`dnsauth-${shortHash(domain)}`), project, domain, labels, description: `Authorizes certificates for ${domain}` },
            { parent: this, protect: args.protect },
          ),
      );
      const map = new certificatemanager.CertificateMap(
        `${name}-map`,
        { name: resourceName("certmap"), project, labels, description: `Certificates of ${domains.join(", ")}`.slice(0, 1024) },
        { parent: this },
      );
      const entries = domains.map((domain, i) => {
        const certificate = new certificatemanager.Certificate(
          `${name}-certificate-${domain}`,
          { name: resourceName(`cert-${shortHash(domain)}`), project, labels, managed: { domains: [domain], dnsAuthorizations: [authorizations[i].id] } },
          { parent: this },
        );
        return new certificatemanager.CertificateMapEntry(
          `${name}-map-entry-${domain}`,
          { name: resourceName(`entry-${shortHash(domain)}`), project, labels, map: map.name, hostname: domain, certificates: [certificate.id] },
          { parent: this },
        );
      });
      this.sslCertificates = [];
      // The map's id is projects/P/locations/global/certificateMaps/NAME (the "Import" section of
      // certificateMap.d.ts); the proxy takes it prefixed with //certificatemanager.googleapis.com/.
      this.certificateMap = pulumi.all([map.id, ...entries.map((e) => e.id)]).apply(([id]) => `//certificatemanager.googleapis.com/${id}`);
      this.authorizationRecords = pulumi
        .all(authorizations.map((a) => a.dnsResourceRecords))
        .apply((lists) => lists.flat().map((r) => ({ name: r.name, type: r.type, data: r.data })));
    }

    this.registerOutputs({ sslCertificates: this.sslCertificates, certificateMap: this.certificateMap, authorizationRecords: this.authorizationRecords });
  }
}
