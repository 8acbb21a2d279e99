/** Azure: registries, role assignments, federated credentials. */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
// The program's one role catalogue: a file with no imports, so the pack still loads on its own dependencies.
import { AZURE_BUILT_IN_ROLES, type AzureBuiltInRole } from "../../components/roleCatalogue";
import { field, globToRegExp, inPipelineStack, onTypes, oneOf, stageConfigSchema, stageOfArgs, strings, T, GITHUB_ISSUER } from "./common";

export const registryNoSharedCredentials: ResourceValidationPolicy = {
  name: "acr-no-admin-user-or-anonymous-pull",
  description: "Container registries have the admin user and anonymous pull disabled.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.registry), (props, _args, reportViolation) => {
    if (props.adminUserEnabled === true) {
      reportViolation("adminUserEnabled is true: the admin user is a shared, long-lived password; CI pushes with its OIDC identity (AcrPush). Set adminUserEnabled: false.");
    }
    if (props.anonymousPullEnabled === true) {
      reportViolation("anonymousPullEnabled is true: anyone on the internet could pull every image. Set anonymousPullEnabled: false; clusters pull with AcrPull.");
    }
  }),
};

const RESOURCE_SCOPE = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+/i;
const RESOURCE_GROUP_SCOPE = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i;

export const roleAssignmentResourceScope: ResourceValidationPolicy = {
  name: "azure-role-assignment-resource-scope",
  description:
    "Role assignments are scoped to a single resource, never a subscription, resource group or management group; the pipeline stack alone may grant on a resource group (a deploy stack's writer creates resources in it).",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.roleAssignment), (props, args, reportViolation) => {
    const scope = props.scope;
    if (typeof scope === "string" && inPipelineStack(args) && RESOURCE_GROUP_SCOPE.test(scope)) return;
    if (typeof scope !== "string" || !RESOURCE_SCOPE.test(scope)) {
      reportViolation(
        `scope ${JSON.stringify(scope)} is not a single resource: a grant at subscription or resource-group scope reaches every resource in it. Scope the assignment to the resource id (e.g. the registry's id).`,
      );
    }
  }),
};

export const roleAssignmentPrincipalType: ResourceValidationPolicy = {
  name: "azure-role-assignment-principal-type",
  description: "Role assignments name principalType ServicePrincipal: this program grants roles only to managed identities.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.roleAssignment), (props, _args, reportViolation) => {
    if (props.principalType !== "ServicePrincipal") {
      reportViolation(
        `principalType is ${JSON.stringify(props.principalType)}: azure-native defaults it to "User", which Azure rejects for a managed identity (and without it a new identity's grant can fail while Entra ID replicates). Set principalType: "ServicePrincipal".`,
      );
    }
  }),
};

const AZURE_AUDIENCE = "api://AzureADTokenExchange";
// Classic `repo:OWNER/REPO:environment:ENV` or GitHub's immutable `repo:OWNER@ID/REPO@ID:environment:ENV`.
const ENVIRONMENT_SUBJECT = /^repo:[A-Za-z0-9-]+(@\d+)?\/[A-Za-z0-9._-]+(@\d+)?:environment:[^:*]+$/;

export const federatedCredentialGithubEnvironment: ResourceValidationPolicy = {
  name: "azure-federated-credential-github-environment",
  description: "Federated identity credentials trust only GitHub's issuer, Azure's token-exchange audience and one repository environment.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.federatedCredential), (props, _args, reportViolation) => {
    if (props.issuer !== GITHUB_ISSUER) {
      reportViolation(`issuer is ${JSON.stringify(props.issuer)}; CI identities trust only ${GITHUB_ISSUER}.`);
    }
    const audiences = props.audiences;
    if (!Array.isArray(audiences) || audiences.length !== 1 || audiences[0] !== AZURE_AUDIENCE) {
      reportViolation(`audiences is ${JSON.stringify(audiences)}; it must be exactly ["${AZURE_AUDIENCE}"].`);
    }
    const subject = props.subject;
    if (typeof subject !== "string" || !ENVIRONMENT_SUBJECT.test(subject)) {
      reportViolation(
        `subject ${JSON.stringify(subject)} is not repo:OWNER/REPO:environment:ENV: branch (ref:) and pull_request subjects let any workflow run on that ref act as the identity, bypassing the environment's reviewers and branch policies.`,
      );
    }
  }),
};

// ---------------------------------------------------------------------------------------------
// Who may write to a registry a prod stage pulls from. A stack sees only its own resources, so the
// rule is split in two halves that each stack can check and that together keep non-prod writers
// away from prod pulls: a prod stage pulls only from registries it creates, and a non-prod stage
// writes only to registries it creates.

const REGISTRY_SCOPE = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerRegistry\/registries\/([^/]+)$/i;
/** Role id -> name, for the built-in roles listed (ids from the program's role catalogue). */
const rolesById = (names: readonly AzureBuiltInRole[]): Record<string, string> => Object.fromEntries(names.map((name) => [AZURE_BUILT_IN_ROLES[name].id, name]));
/** Built-in roles (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers) that pull images. */
const PULL_ROLES = rolesById(["AcrPull", "Container Registry Repository Reader"]);
/** Built-in roles that push, import, retag or delete images in a registry. */
const WRITE_ROLES = rolesById([
  "AcrPush",
  "AcrDelete",
  "Container Registry Data Importer and Data Reader",
  "Container Registry Repository Writer",
  "Container Registry Repository Contributor",
  "Contributor",
  "Owner",
]);

interface RegistryGrant {
  urn: string;
  registry: string;
  /** `<resource group>/<registry>`, lower case. */
  key: string;
  roleId: string;
  description: unknown;
}

/** Role assignments on a registry scope, with the role's GUID. */
function registryGrants(resources: readonly PolicyResource[]): RegistryGrant[] {
  return resources.flatMap((r) => {
    if (r.type !== T.roleAssignment) return [];
    const match = typeof r.props.scope === "string" ? REGISTRY_SCOPE.exec(r.props.scope) : null;
    const roleId = typeof r.props.roleDefinitionId === "string" ? (r.props.roleDefinitionId.split("/").pop() ?? "").toLowerCase() : "";
    return match ? [{ urn: r.urn, registry: match[2], key: `${match[1]}/${match[2]}`.toLowerCase(), roleId, description: r.props.description }] : [];
  });
}

/** `<resource group>/<registry>` (lower case) of each registry the stack creates. */
function createdRegistries(resources: readonly PolicyResource[]): Set<string> {
  return new Set(resources.filter((r) => r.type === T.registry).map((r) => `${String(r.props.resourceGroupName)}/${String(r.props.registryName)}`.toLowerCase()));
}

export const prodPullsOnlyOwnRegistry: StackValidationPolicy = {
  name: "acr-prod-pulls-only-own-registry",
  description: "In prod, images are pulled (AcrPull, Repository Reader) only from registries the prod stack itself creates, so no non-prod stack can write to them.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateStack: (args, reportViolation) => {
    if (stageOfArgs(args) !== "prod") return;
    const own = createdRegistries(args.resources);
    for (const grant of registryGrants(args.resources)) {
      const role = PULL_ROLES[grant.roleId];
      if (role && !own.has(grant.key)) {
        reportViolation(
          `grants ${role} on registry ${grant.registry}, which this prod stack does not create: another stack owns it, and its pushers may be non-prod. Pull in prod only from a registry the prod stack creates, and bring images into it with promotion (importFrom).`,
          grant.urn,
        );
      }
    }
  },
};

export const nonProdWritesOnlyOwnRegistry: StackValidationPolicy = {
  name: "acr-nonprod-writes-only-own-registry",
  description: "Outside prod, identities get write roles (AcrPush, importer, delete, repository writer) only on registries the same stack creates: a registry another stack owns may be one a prod stage pulls from.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateStack: (args, reportViolation) => {
    const stage = stageOfArgs(args);
    if (stage === "prod") return;
    const own = createdRegistries(args.resources);
    for (const grant of registryGrants(args.resources)) {
      const role = WRITE_ROLES[grant.roleId];
      if (role && !own.has(grant.key)) {
        reportViolation(
          `grants ${role} on registry ${grant.registry} from stage ${stage}, but this stack does not create that registry: if a prod stage pulls from it, anything merged to a non-prod branch can overwrite production images. Push to a registry this stack creates, and promote into the prod registry by digest.`,
          grant.urn,
        );
      }
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Promotion sources pushed from unprotected branches.

/** The Reader role a promoting identity gets on an `importFrom` source (components/containerRegistry.ts). */
const PROMOTION_SOURCE_ROLE = AZURE_BUILT_IN_ROLES.Reader.id;
const PUSH_ROLE = AZURE_BUILT_IN_ROLES.AcrPush.id;

/** Whether an active branch ruleset with a pull-request rule (at least one approval) covers every branch `deployPattern` admits. */
function protectedBy(rulesets: readonly PolicyResource[], repository: string, deployPattern: string): boolean {
  return rulesets.some((r) => {
    if (r.props.repository !== repository || r.props.target !== "branch" || r.props.enforcement !== "active") return false;
    const approvals = field(r.props, "rules", "pullRequest", "requiredApprovingReviewCount");
    if (typeof approvals !== "number" || approvals < 1) return false;
    const includes = strings(field(r.props, "conditions", "refName", "includes"));
    const excludes = strings(field(r.props, "conditions", "refName", "excludes"));
    if (excludes.length > 0) return false;
    // A deploy pattern with wildcards is covered only by ~ALL or by the same pattern.
    return includes.some((i) => i === "~ALL" || i === `refs/heads/${deployPattern}` || (!deployPattern.includes("*") && i.startsWith("refs/heads/") && globToRegExp(i.slice("refs/heads/".length)).test(deployPattern)));
  });
}

export const promotionSourceProtectedBranches: StackValidationPolicy = {
  name: "acr-promotion-source-protected-branches",
  description: "A registry images are promoted from is pushed to only by environments that deploy from branches a pull-request ruleset (at least one approval) protects; checked where the same stack holds the promotion, the pushing environment and the rulesets.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const grants = registryGrants(args.resources);
    const sources = new Set(grants.filter((g) => g.roleId === PROMOTION_SOURCE_ROLE).map((g) => g.key));
    if (sources.size === 0) return;
    const rulesets = args.resources.filter((r) => r.type === T.ruleset);
    const policies = args.resources.filter((r) => r.type === T.deploymentPolicy);
    for (const push of grants.filter((g) => g.roleId === PUSH_ROLE && sources.has(g.key))) {
      // This program names the pushing identity `ci:<repository>-<environment>` in the grant's description.
      const key = /for ci:(.+)$/.exec(String(push.description))?.[1];
      const environment = policies.filter((p) => key !== undefined && `${String(p.props.repository)}-${String(p.props.environment)}` === key);
      for (const policy of environment) {
        const branch = policy.props.branchPattern;
        if (typeof branch !== "string") continue;
        if (!protectedBy(rulesets, String(policy.props.repository), branch)) {
          reportViolation(
            `environment ${String(policy.props.environment)} of ${String(policy.props.repository)} pushes to registry ${push.registry}, which is promoted from, and deploys from branch pattern ${JSON.stringify(branch)}, which no active ruleset requiring an approved pull request covers: an unreviewed branch could push the image that gets promoted. Limit the environment's deployFrom to protected branches, or protect them with a ruleset.`,
            push.urn,
          );
        }
      }
    }
  },
};
