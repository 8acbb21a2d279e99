/**
 * Who can do what, from the plan alone: per GitHub repository and environment, the refs that can
 * deploy, the reviewers and wait timer, the CI identity the environment receives and each right it
 * gets; registry pull by clusters; public grants; the rulesets that guard the refs.
 *
 * In a preview the identities' principal ids are unknown, so grants are linked to identities
 * structurally: the engine's dependency list of each resource includes its property dependencies,
 * so a role assignment whose principalId comes from an identity depends on that identity. Scopes,
 * role definitions and names are known and read as they are.
 */
import type { PlanDocument, PlannedResource } from "../planStack";
import { field, list, ofType, str, strings, T, UNKNOWN } from "./inputs";
import { azureRoleName, bypassActorName, describeAzureScope } from "./names";
import { labelSubject } from "./placeholders";

/** One right: a role on an object. */
export interface Grant {
  /** Role name (or id when it has no known name). */
  role: string;
  /** The object in words: `registry acmeprodacr`, `bucket acme-cdn-assets`. */
  object: string;
  /** Logical name of the granting resource. */
  resource: string;
}

export interface CiIdentity {
  cloud: "Azure" | "GCP";
  /** `id-shop-production`, `ci-loader-cdn-production@acme-web-prod.iam.gserviceaccount.com`. */
  name: string;
  /** URN of the identity resource. */
  urn: string;
  /** Exact OIDC subjects it trusts; empty when only known after apply. */
  subjects: string[];
  /** Trust bindings whose subject is only known after apply (GCP: the pool's full name is unknown in a preview). */
  unknownSubjects: number;
  grants: Grant[];
}

export interface EnvironmentAccess {
  repository: string;
  environment: string;
  /** Branch and tag patterns of the custom deployment policies. */
  branches: string[];
  tags: string[];
  /** What GitHub allows when no custom policies are set: `protected branches`, or every ref. */
  refPolicy: "custom" | "protected branches" | "any ref";
  /** `team release-managers`, `user octocat`. */
  reviewers: string[];
  preventSelfReview: boolean;
  waitMinutes: number;
  /** GitHub defaults can_admins_bypass to true. */
  adminsCanBypass: boolean;
  secrets: string[];
  variables: string[];
  identities: CiIdentity[];
  /** Packages published from this environment through trusted publishing: `npm @acme/loader`. */
  publishes: string[];
  urn: string;
}

export interface Ruleset {
  name: string;
  target: string;
  enforcement: string;
  refs: string[];
  excludes: string[];
  /** Rules in words, keyed by rule: `pullRequest` -> `PR with 1 approval (...)`. */
  rules: Map<string, string>;
  /** Required approving reviews, when a pull request is required. */
  approvals?: number;
  /** The pull request rule's further requirements in words. */
  pullRequestDetails: string[];
  /** Required status checks. */
  checks: string[];
  bypass: string[];
  urn: string;
}

export interface RepositoryAccess {
  repository: string;
  rulesets: Ruleset[];
  environments: EnvironmentAccess[];
  /** The Actions defaults, when this stack manages them. */
  actionsDefaults?: string;
  secrets: string[];
  variables: string[];
}

export interface AccessMap {
  stack: string;
  owner: string;
  repositories: RepositoryAccess[];
  /** Grants to identities the plan does not create: AKS kubelets, existing principals. */
  otherGrants: { principal: string; grant: Grant }[];
  /** Grants to everyone (allUsers, allAuthenticatedUsers). */
  publicGrants: { principal: string; grant: Grant }[];
  /** Identities the plan creates that no environment receives. */
  unwiredIdentities: CiIdentity[];
  /** Resources the plan protects from deletion (`protect`). */
  protectedResources: string[];
}

const key = (repository: string, environment: string) => `${repository}\u0000${environment.toLowerCase()}`;
const unique = <V>(values: V[]) => [...new Set(values)];

/** The repository and environment of an exact environment subject, in either GitHub form. */
export function parseSubject(subject: string): { owner: string; repository: string; environment: string } | undefined {
  const match = /^repo:([^/@]+)(?:@\d+)?\/([^:@]+)(?:@\d+)?:environment:(.+)$/.exec(subject);
  return match ? { owner: match[1], repository: match[2], environment: match[3] } : undefined;
}

/** A reviewer id as the plan shows it (a placeholder label, or a number given in the stack file). */
function reviewerName(kind: "team" | "user", id: unknown): string {
  if (typeof id === "string") {
    const subject = labelSubject(id);
    if (subject) return `${subject.kind} ${subject.name}`;
    if (id === UNKNOWN) return `${kind} (known after apply)`;
  }
  return `${kind} id ${String(id)}`;
}

/** The pull request rule's requirements beyond the approval count, in words. */
function pullRequestDetails(rule: unknown): string[] {
  return [
    field(rule, "requireLastPushApproval") === true && "last push approved by another",
    field(rule, "dismissStaleReviewsOnPush") === true && "stale approvals dismissed",
    field(rule, "requireCodeOwnerReview") === true && "code owners",
  ].filter((d): d is string => typeof d === "string");
}

function rulesOf(rules: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (rules === null || typeof rules !== "object") return out;
  const words: Record<string, string> = {
    creation: "no creation",
    update: "no update",
    deletion: "no deletion",
    nonFastForward: "no force push",
    requiredLinearHistory: "linear history",
    requiredSignatures: "signed commits",
  };
  for (const [rule, value] of Object.entries(rules as Record<string, unknown>)) {
    if (value === undefined || value === null || value === false) continue;
    if (rule === "pullRequest") {
      const approvals = field(value, "requiredApprovingReviewCount");
      const details = pullRequestDetails(value);
      out.set(rule, `PR with ${String(approvals ?? 0)} approval${approvals === 1 ? "" : "s"}${details.length ? ` (${details.join(", ")})` : ""}`);
    } else if (rule === "requiredStatusChecks") {
      const checks = list(value, "requiredChecks").map((c) => String(field(c, "context")));
      out.set(rule, `checks ${checks.join(", ")}${field(value, "strictRequiredStatusChecksPolicy") === true ? " (up to date)" : ""}`);
    } else {
      out.set(rule, words[rule] ?? (value === true ? rule : `${rule}: ${JSON.stringify(value)}`));
    }
  }
  return out;
}

/** The access map of one stack's plan. */
export function accessMap(plan: PlanDocument): AccessMap {
  const resources = plan.resources;
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const customRoles = customAzureRoles(resources);
  const dependents = (urn: string, ...types: string[]) => ofType(resources, ...types).filter((r) => r.dependsOn.includes(urn));
  const owner = ownerOf(plan);

  // Identities and their rights.
  const azureIdentities: CiIdentity[] = ofType(resources, T.uami).map((u) => {
    const identityName = str(u.inputs, "resourceName") ?? u.name;
    const credentials = ofType(resources, T.federatedCredential).filter(
      (c) => c.dependsOn.includes(u.urn) || (str(c.inputs, "resourceName") === identityName && str(c.inputs, "resourceGroupName") === str(u.inputs, "resourceGroupName")),
    );
    const grants = dependents(u.urn, T.roleAssignment).map((ra) => azureGrant(ra, customRoles));
    return { cloud: "Azure", name: identityName, urn: u.urn, subjects: unique(credentials.map((c) => str(c.inputs, "subject") ?? UNKNOWN)), unknownSubjects: 0, grants };
  });
  const gcpIdentities: CiIdentity[] = ofType(resources, T.serviceAccount).map((sa) => {
    const accountId = str(sa.inputs, "accountId") ?? sa.name;
    const project = str(sa.inputs, "project");
    const trusts = dependents(sa.urn, T.serviceAccountMember).filter((m) => str(m.inputs, "role") === "roles/iam.workloadIdentityUser");
    const subjects = trusts.map((t) => /\/subject\/(.+)$/.exec(str(t.inputs, "member") ?? "")?.[1]).filter((s): s is string => s !== undefined);
    const grants = [
      ...dependents(sa.urn, T.bucketMember).map((m) => ({ role: gcpRole(m, byUrn), object: `bucket ${str(m.inputs, "bucket") ?? UNKNOWN}${gcpCondition(m)}`, resource: m.name })),
      ...dependents(sa.urn, T.projectMember).map((m) => ({ role: gcpRole(m, byUrn), object: `project ${str(m.inputs, "project") ?? UNKNOWN}${gcpCondition(m)}`, resource: m.name })),
      ...dependents(sa.urn, T.serviceAccountMember)
        .filter((m) => !trusts.includes(m))
        .map((m) => ({ role: gcpRole(m, byUrn), object: `service account ${str(m.inputs, "serviceAccountId") ?? UNKNOWN}`, resource: m.name })),
    ];
    return {
      cloud: "GCP",
      // The email GCP derives from the account id and project.
      name: project ? `${accountId}@${project}.iam.gserviceaccount.com` : accountId,
      urn: sa.urn,
      subjects,
      unknownSubjects: trusts.length - subjects.length,
      grants,
    };
  });
  const identities = [...azureIdentities, ...gcpIdentities];
  const linked = new Set(identities.flatMap((i) => i.grants.map((g) => g.resource)));

  // Environments, their policies, secrets, variables and the identities they receive.
  const environments = new Map<string, EnvironmentAccess>();
  for (const env of ofType(resources, T.environment)) {
    const repository = str(env.inputs, "repository") ?? UNKNOWN;
    const environment = str(env.inputs, "environment") ?? UNKNOWN;
    const reviewers = list(env.inputs, "reviewers").flatMap((r) => [
      ...list(r, "teams").map((id) => reviewerName("team", id)),
      ...list(r, "users").map((id) => reviewerName("user", id)),
    ]);
    const custom = field(env.inputs, "deploymentBranchPolicy", "customBranchPolicies") === true;
    const protectedOnly = field(env.inputs, "deploymentBranchPolicy", "protectedBranches") === true;
    const wait = field(env.inputs, "waitTimer");
    environments.set(key(repository, environment), {
      repository,
      environment,
      branches: [],
      tags: [],
      refPolicy: custom ? "custom" : protectedOnly ? "protected branches" : "any ref",
      reviewers,
      preventSelfReview: field(env.inputs, "preventSelfReview") === true,
      waitMinutes: typeof wait === "number" ? wait : 0,
      adminsCanBypass: field(env.inputs, "canAdminsBypass") !== false,
      secrets: [],
      variables: [],
      identities: [],
      publishes: [],
      urn: env.urn,
    });
  }
  const environmentOf = (r: PlannedResource) => environments.get(key(str(r.inputs, "repository") ?? UNKNOWN, str(r.inputs, "environment") ?? UNKNOWN));
  for (const policy of ofType(resources, T.deploymentPolicy)) {
    const env = [...environments.values()].find((e) => policy.dependsOn.includes(e.urn)) ?? environmentOf(policy);
    const branch = str(policy.inputs, "branchPattern");
    const tag = str(policy.inputs, "tagPattern");
    if (env && branch) env.branches.push(branch);
    if (env && tag) env.tags.push(tag);
  }
  for (const secret of ofType(resources, T.environmentSecret)) environmentOf(secret)?.secrets.push(str(secret.inputs, "secretName") ?? secret.name);
  for (const variable of ofType(resources, T.environmentVariable)) {
    const env = environmentOf(variable);
    if (!env) continue;
    env.variables.push(str(variable.inputs, "variableName") ?? variable.name);
    // The environment receives an identity through a wired variable that depends on it.
    for (const identity of identities) {
      if (variable.dependsOn.includes(identity.urn) && !env.identities.includes(identity)) env.identities.push(identity);
    }
  }
  // An identity trusted only by an environment's subject also belongs to it, wired or not.
  for (const identity of identities) {
    for (const subject of identity.subjects.map(parseSubject)) {
      const env = subject && environments.get(key(subject.repository, subject.environment));
      if (env && !env.identities.includes(identity)) env.identities.push(identity);
    }
  }
  for (const publisher of list(plan.outputs, "trustedPublishers")) {
    const env = environments.get(key(String(field(publisher, "repository")), String(field(publisher, "environment"))));
    env?.publishes.push(`${String(field(publisher, "registry"))} ${String(field(publisher, "package"))} (workflow ${String(field(publisher, "workflow"))})`);
  }

  // Repositories: their rulesets and Actions defaults, then their environments.
  const repositories = new Map<string, RepositoryAccess>();
  const repositoryOf = (name: string) => {
    let repo = repositories.get(name);
    if (!repo) {
      repo = { repository: name, rulesets: [], environments: [], secrets: [], variables: [] };
      repositories.set(name, repo);
    }
    return repo;
  };
  for (const rs of ofType(resources, T.ruleset)) {
    repositoryOf(str(rs.inputs, "repository") ?? UNKNOWN).rulesets.push({
      name: str(rs.inputs, "name") ?? rs.name,
      target: str(rs.inputs, "target") ?? "branch",
      enforcement: str(rs.inputs, "enforcement") ?? UNKNOWN,
      refs: strings(rs.inputs, "conditions", "refName", "includes"),
      excludes: strings(rs.inputs, "conditions", "refName", "excludes"),
      rules: rulesOf(field(rs.inputs, "rules")),
      approvals: ((n) => (typeof n === "number" ? n : field(rs.inputs, "rules", "pullRequest") ? 0 : undefined))(field(rs.inputs, "rules", "pullRequest", "requiredApprovingReviewCount")),
      pullRequestDetails: pullRequestDetails(field(rs.inputs, "rules", "pullRequest")),
      checks: list(rs.inputs, "rules", "requiredStatusChecks", "requiredChecks").map((c) => String(field(c, "context"))),
      bypass: list(rs.inputs, "bypassActors").map(
        (a) => `${bypassActorName(field(a, "actorType"), field(a, "actorId"))}${str(a, "bypassMode") && str(a, "bypassMode") !== "always" ? ` (${String(str(a, "bypassMode"))})` : ""}`,
      ),
      urn: rs.urn,
    });
  }
  for (const defaults of ofType(resources, T.actionsDefaults)) {
    const permissions = str(defaults.inputs, "defaultWorkflowPermissions");
    const approve = field(defaults.inputs, "canApprovePullRequestReviews") === true;
    repositoryOf(str(defaults.inputs, "repository") ?? UNKNOWN).actionsDefaults = `workflow token ${permissions === "read" ? "read-only" : (permissions ?? "GitHub's default")}; workflows ${approve ? "can" : "cannot"} approve pull requests`;
  }
  for (const secret of ofType(resources, T.repositorySecret)) repositoryOf(str(secret.inputs, "repository") ?? UNKNOWN).secrets.push(str(secret.inputs, "secretName") ?? secret.name);
  for (const variable of ofType(resources, T.repositoryVariable)) repositoryOf(str(variable.inputs, "repository") ?? UNKNOWN).variables.push(str(variable.inputs, "variableName") ?? variable.name);
  for (const env of environments.values()) repositoryOf(env.repository).environments.push(env);

  // Grants to principals the plan does not create, and to everyone.
  const otherGrants: AccessMap["otherGrants"] = [];
  const publicGrants: AccessMap["publicGrants"] = [];
  for (const ra of ofType(resources, T.roleAssignment).filter((r) => !linked.has(r.name))) {
    const principal = str(ra.inputs, "principalId") ?? UNKNOWN;
    const kubelet = /^<kubelet-object-id of (.+)>$/.exec(principal);
    otherGrants.push({ principal: kubelet ? `kubelet of cluster ${kubelet[1]}` : `principal ${principal}`, grant: azureGrant(ra, customRoles) });
  }
  for (const m of ofType(resources, T.bucketMember, T.projectMember, T.serviceAccountMember).filter((r) => !linked.has(r.name) && !gcpIdentities.some((i) => r.dependsOn.includes(i.urn)))) {
    const member = str(m.inputs, "member") ?? UNKNOWN;
    const object = m.type === T.bucketMember ? `bucket ${str(m.inputs, "bucket") ?? UNKNOWN}` : m.type === T.projectMember ? `project ${str(m.inputs, "project") ?? UNKNOWN}` : `service account ${str(m.inputs, "serviceAccountId") ?? UNKNOWN}`;
    const entry = { principal: member, grant: { role: gcpRole(m, byUrn), object, resource: m.name } };
    if (member === "allUsers" || member === "allAuthenticatedUsers") publicGrants.push(entry);
    else otherGrants.push(entry);
  }

  const wired = new Set([...environments.values()].flatMap((e) => e.identities));
  const sortedRepositories = [...repositories.values()].sort((a, b) => (a.repository < b.repository ? -1 : 1));
  for (const repo of sortedRepositories) repo.environments.sort((a, b) => (a.environment < b.environment ? -1 : 1));
  return {
    stack: plan.stack,
    owner,
    repositories: sortedRepositories,
    otherGrants,
    publicGrants,
    unwiredIdentities: identities.filter((i) => !wired.has(i)),
    protectedResources: resources.filter((r) => r.protect).map((r) => r.name),
  };
}

/** The GitHub owner, as the outputs and trust conditions name it (the plan has no field for it). */
function ownerOf(plan: PlanDocument): string {
  const wired = Object.keys((field(plan.outputs, "wiredVariables") as Record<string, unknown> | undefined) ?? {})[0];
  if (wired) return wired.split("/")[0];
  const first = list(plan.outputs, "trustedPublishers")[0];
  if (str(first, "owner")) return str(first, "owner") ?? "";
  const resources = plan.resources;
  for (const c of ofType(resources, T.federatedCredential)) {
    const subject = parseSubject(str(c.inputs, "subject") ?? "");
    if (subject) return subject.owner;
  }
  const condition = ofType(resources, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider").map((p) => str(p.inputs, "attributeCondition") ?? "")[0] ?? "";
  return /repository_owner == "([^"]+)"/.exec(condition)?.[1] ?? "";
}

/** Custom Azure roles the plan defines, by GUID (lower case): their names, for the grants that use them. */
function customAzureRoles(resources: readonly PlannedResource[]): Map<string, string> {
  return new Map(
    ofType(resources, "azure-native:authorization:RoleDefinition").flatMap((d) => {
      const id = str(d.inputs, "roleDefinitionId");
      const name = str(d.inputs, "roleName");
      return id && name ? [[id.toLowerCase(), `custom role "${name}"`] as const] : [];
    }),
  );
}

function azureGrant(ra: PlannedResource, custom: ReadonlyMap<string, string>): Grant {
  const roleId = str(ra.inputs, "roleDefinitionId") ?? UNKNOWN;
  const guid = (roleId.split("/").pop() ?? roleId).toLowerCase();
  const scope = str(ra.inputs, "scope");
  const condition = str(ra.inputs, "condition");
  return {
    role: azureRoleName(roleId) ?? custom.get(guid) ?? `role ${guid}`,
    object: `${scope ? describeAzureScope(scope) : "(scope known after apply)"}${condition ? " (conditioned: see the assignment's condition)" : ""}`,
    resource: ra.name,
  };
}

/** A GCP grant's IAM condition in words: its title, else its expression. */
function gcpCondition(member: PlannedResource): string {
  const title = str(member.inputs, "condition", "title");
  const expression = str(member.inputs, "condition", "expression");
  return title || expression ? ` (condition: ${title ?? expression})` : "";
}

/** A GCP role: predefined roles by name; a custom role created here by its id and permissions. */
function gcpRole(member: PlannedResource, byUrn: ReadonlyMap<string, PlannedResource>): string {
  const role = str(member.inputs, "role");
  if (role) return role;
  const custom = member.dependsOn.map((urn) => byUrn.get(urn)).find((r) => r?.type === T.customRole);
  if (!custom) return "role known after apply";
  return `custom role ${str(custom.inputs, "roleId") ?? custom.name} (${strings(custom.inputs, "permissions").join(", ")})`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The refs an environment accepts, in words. */
export function refsOf(env: EnvironmentAccess): string {
  if (env.refPolicy !== "custom") return env.refPolicy === "any ref" ? "any branch or tag" : "any protected branch";
  const refs = [...env.branches.map((b) => `branch ${b}`), ...env.tags.map((t) => `tag ${t}`)];
  return refs.length > 0 ? refs.join(", ") : "no ref (no deployment policy yet)";
}

/** Reviewers, wait timer and bypass in words. */
export function approvalOf(env: EnvironmentAccess): string {
  const parts = [env.reviewers.length > 0 ? `${env.reviewers.join(", ")}${env.preventSelfReview ? " (not their own runs)" : " (may approve their own runs)"}` : "no reviewers"];
  if (env.waitMinutes > 0) parts.push(`wait ${env.waitMinutes} min`);
  parts.push(env.adminsCanBypass ? "admins can bypass" : "admins cannot bypass");
  return parts.join("; ");
}

export function identityLine(identity: CiIdentity): string {
  const trust =
    identity.subjects.length > 0
      ? `trusts ${identity.subjects.join(", ")}`
      : identity.unknownSubjects > 0
        ? `${plural(identity.unknownSubjects, "workload identity binding")}, subjects known after apply`
        : "trusts no subject";
  const extra = identity.subjects.length > 0 && identity.unknownSubjects > 0 ? ` and ${identity.unknownSubjects} more known after apply` : "";
  return `${identity.cloud} ${identity.cloud === "Azure" ? "identity" : "service account"} ${identity.name}: ${trust}${extra}`;
}

export const grantLine = (g: Grant): string => `${g.role} on ${g.object}`;

export function rulesetLine(rs: Ruleset): string {
  const refs = `${rs.target} ${rs.refs.join(", ")}${rs.excludes.length ? ` except ${rs.excludes.join(", ")}` : ""}`;
  const enforcement = rs.enforcement === "active" ? "" : ` [${rs.enforcement}]`;
  return `${rs.name} (${refs})${enforcement}: ${[...rs.rules.values()].join("; ") || "no rules"} · ${rs.bypass.length ? `bypass: ${rs.bypass.join(", ")}` : "no bypass"}`;
}

/** The access map as plain text, one repository and environment after another. */
export function renderAccessMap(map: AccessMap): string[] {
  const lines = [`Access · stack ${map.stack}`];
  if (map.repositories.length === 0 && map.otherGrants.length === 0 && map.publicGrants.length === 0) lines.push("  (no GitHub repositories, identities or grants in this stack)");
  for (const repo of map.repositories) {
    lines.push(`  ${map.owner ? `${map.owner}/` : ""}${repo.repository}`);
    for (const rs of repo.rulesets) lines.push(`    ruleset ${rulesetLine(rs)}`);
    if (repo.actionsDefaults) lines.push(`    Actions: ${repo.actionsDefaults}`);
    if (repo.secrets.length) lines.push(`    repository secrets: ${repo.secrets.join(", ")}`);
    for (const env of repo.environments) {
      lines.push(`    environment ${env.environment}`);
      lines.push(`      deploys from: ${refsOf(env)}`);
      lines.push(`      approval: ${approvalOf(env)}`);
      if (env.secrets.length) lines.push(`      secrets: ${env.secrets.join(", ")}`);
      for (const p of env.publishes) lines.push(`      publishes: ${p} by trusted publishing`);
      for (const identity of env.identities) {
        lines.push(`      ${identityLine(identity)}`);
        for (const g of identity.grants) lines.push(`        ${grantLine(g)}`);
      }
    }
  }
  for (const identity of map.unwiredIdentities) {
    lines.push(`  ${identityLine(identity)} (no environment receives it)`);
    for (const g of identity.grants) lines.push(`    ${grantLine(g)}`);
  }
  for (const { principal, grant } of map.otherGrants) lines.push(`  ${principal}: ${grantLine(grant)}`);
  for (const { principal, grant } of map.publicGrants) lines.push(`  public (${principal}): ${grantLine(grant)}`);
  return lines;
}
