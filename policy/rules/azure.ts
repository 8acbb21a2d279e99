/** Azure: registries, role assignments, federated credentials. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { inPipelineStack, onTypes, oneOf, stageConfigSchema, T, GITHUB_ISSUER } from "./common";

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
