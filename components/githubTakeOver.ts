import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import type { RepositoryConfig } from "../config/load";
import { ownershipKey } from "../config/ownership";
import { ENVIRONMENT_TYPES } from "./githubEnvironment";
import { takeOverProblems, type TakeOverProbe } from "./takeOver";

/** An environment of the repository as the take-over check sees it. */
export interface EnvironmentToCheck {
  name: string;
  adopt: boolean;
  /** The config key that declares it, e.g. `release-infra:github.repositories[shop].environments[production]`. */
  configKey: string;
  /** Names of the secrets the config declares for it. */
  secrets: string[];
  /** The config key that lists its secrets; none for a trusted-publishing environment, which needs none. */
  secretsKey?: string;
  /** The config key that adopts it, e.g. `release-infra:github.repositories[shop].environments[production].adopt`. */
  adoptKey: string;
  deployFrom: { branches: string[]; tags: string[] };
  /** The resource that manages it. */
  resource: pulumi.CustomResource;
  /** Its deployment policies by `branch:<pattern>` / `tag:<pattern>`. */
  policies: ReadonlyMap<string, pulumi.CustomResource>;
  /** The component the environment's resources belong to (the parent a single `pulumi import` needs). */
  component: pulumi.Resource;
}

/** A variable (of the repository, or of an adopted environment) and the resource that manages it. */
export interface VariableToCheck {
  name: string;
  adopt: boolean;
  resource: pulumi.CustomResource;
}

export interface GithubTakeOverArgs {
  owner: string;
  repository: RepositoryConfig;
  /** Every environment the repository's config declares (environments and trustedPublishing). */
  environments: EnvironmentToCheck[];
  /** The repository's variables. */
  variables: VariableToCheck[];
  /** Per adopted environment (by config name), its variables: an adopted environment may have them already. */
  adoptedEnvironmentVariables: Map<string, VariableToCheck[]>;
  /** The repository's rulesets, by config name. */
  rulesets: Map<string, pulumi.CustomResource>;
  /** The stack's `managed` output of its last update. */
  managedBefore: pulumi.Input<string[]>;
  /** The component the lookups belong to. */
  parent: pulumi.Resource;
}

/** A ruleset as `GET /repos/{owner}/{repo}/rulesets` lists it. */
interface ListedRuleset {
  id: number;
  name: string;
}

/** A deployment policy as `GET .../environments/{env}/deployment-branch-policies` lists it. */
interface ListedPolicy {
  id: number;
  name: string;
  type?: string;
}

function parseJson<T>(body: string, what: string): T {
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new Error(`GitHub answered ${what} with something that is not JSON`);
  }
}

const inRepo = (repository: RepositoryConfig, rest: string) => `release-infra:github.repositories[${repository.name}]${rest}`;

/** `branch:<pattern>` or `tag:<pattern>`, as EnvironmentToCheck.policies keys a policy. */
const patternOf = (policy: ListedPolicy) => `${policy.type === "tag" ? "tag" : "branch"}:${policy.name}`;

/**
 * The deployment policies of an environment, when it exists: one page of 100 of
 * `GET .../deployment-branch-policies`, none when GitHub answers 404 (no custom policies). The
 * provider's getRepositoryEnvironmentDeploymentPolicies fails on that 404, reads one page of 30
 * and leaves out the ids an import needs (terraform-provider-github
 * github/data_source_github_repository_environment_deployment_policies.go), so the endpoint is read
 * through getRestApi.
 */
function listedPolicies(owner: string, repository: string, environment: string, exists: pulumi.Output<boolean>, opts: pulumi.InvokeOutputOptions): pulumi.Output<ListedPolicy[]> {
  return exists.apply((found) =>
    found
      ? github
          .getRestApiOutput({ endpoint: `repos/${owner}/${repository}/environments/${encodeURIComponent(environment)}/deployment-branch-policies?per_page=100` }, opts)
          .apply((r) => (r.code === 404 ? [] : (parseJson<{ branch_policies?: ListedPolicy[] }>(r.body, `the deployment policies of ${owner}/${repository}:${environment}`).branch_policies ?? [])))
      : pulumi.output([]),
  );
}

/**
 * Deployment policies and secrets of the declared environments that exist on GitHub although the
 * config does not declare them and the stack did not manage them (its last `managed` output lists
 * what it did, config/ownership.ts ownedWithinEnvironments): added by hand, no update would ever
 * touch them. A policy lets more refs deploy; a secret is readable by every job of the environment
 * (a leftover token that trusted publishing replaced, say). One line each, with its fix.
 */
function undeclaredInEnvironments(
  args: GithubTakeOverArgs,
  existing: pulumi.Output<Set<string>>,
  policiesOf: (env: EnvironmentToCheck) => pulumi.Output<ListedPolicy[]>,
  opts: pulumi.InvokeOutputOptions,
): pulumi.Output<string[]> {
  const { owner, repository: repo } = args;
  const repository = repo.name;
  const lists = args.environments.map((env) =>
    pulumi.all([
      policiesOf(env),
      existing.apply((names) =>
        names.has(env.name.toLowerCase()) ? github.getActionsEnvironmentSecretsOutput({ name: repository, environment: env.name }, opts).secrets : pulumi.output([]),
      ),
    ]),
  );
  return pulumi.all([pulumi.output(args.managedBefore), pulumi.all(lists)]).apply(([before, found]) => {
    const own = new Set(before.map((k) => k.toLowerCase()));
    return args.environments.flatMap((env, i) => {
      const [policies, secrets] = found[i];
      const where = `${env.adopt ? "the adopted " : ""}GitHub environment ${owner}/${repository}:${env.name}`;
      const api = `repos/${owner}/${repository}/environments/${encodeURIComponent(env.name)}/deployment-branch-policies`;
      const declaredSecrets = new Set(env.secrets.map((s) => s.toUpperCase()));
      // The secrets an adopted environment has and the config declares: the update overwrites their values.
      const overwritten = env.adopt ? secrets.filter((s) => declaredSecrets.has(s.name.toUpperCase())).map((s) => s.name) : [];
      if (overwritten.length > 0) {
        pulumi.log.warn(`${where} has the secrets ${overwritten.join(", ")} already: the update overwrites their values with those of release-infra:secrets`, args.parent);
      }
      return [
        ...policies
          .filter((p) => !env.policies.has(patternOf(p)) && !own.has(ownershipKey.githubDeploymentPolicy(owner, repository, env.name, patternOf(p)).toLowerCase()))
          .map((p) => {
            const kind = p.type === "tag" ? "tag" : "branch";
            return (
              `${where} has the ${kind} policy ${p.name}, which deployFrom does not list: it lets those refs deploy. ` +
              `List it under ${env.configKey}.deployFrom.${kind === "tag" ? "tags" : "branches"} to keep it, or delete it: gh api -X DELETE ${api}/${p.id}`
            );
          }),
        ...secrets
          .filter((s) => !declaredSecrets.has(s.name.toUpperCase()) && !own.has(ownershipKey.githubEnvironmentSecret(owner, repository, env.name, s.name).toLowerCase()))
          .map(
            (s) =>
              `${where} has the secret ${s.name}, which the config does not declare: every job in the environment can read it. ` +
              (env.secretsKey
                ? `List it under ${env.secretsKey} (its value under release-infra:secrets) to manage it, or delete it: `
                : `Its publishing job logs in by OIDC and needs no secret; delete it: `) +
              `gh secret delete ${s.name} --env ${env.name} --repo ${owner}/${repository}`,
          ),
      ];
    });
  });
}

/**
 * What already exists on one repository, checked in the preview before anything is created:
 * environments, repository variables and rulesets the config would create are an error unless
 * adopted (or the stack made them); adopted environments' variables likewise; so are deployment
 * policies and secrets of declared environments that nobody declared (undeclaredInEnvironments).
 * Warnings name what stays behind: repository secrets shadowing an environment secret of the same
 * name, and `retiredSecrets` still present.
 */
export function githubTakeOver(args: GithubTakeOverArgs): pulumi.Output<string[]> {
  const { owner, repository: repo, parent } = args;
  const repository = repo.name;
  const opts = { parent };
  const environments = github.getRepositoryEnvironmentsOutput({ repository }, opts).apply((r) => new Set(r.environments.map((e) => e.name.toLowerCase())));
  const variables = github.getActionsVariablesOutput({ name: repository }, opts).apply((r) => new Set(r.variables.map((v) => v.name.toUpperCase())));
  const rulesets = github
    .getRestApiOutput({ endpoint: `repos/${owner}/${repository}/rulesets?includes_parents=false&per_page=100` }, opts)
    .apply((r) => (r.code === 404 ? [] : parseJson<ListedRuleset[]>(r.body, `the rulesets of ${owner}/${repository}`)));

  const probes: TakeOverProbe[] = [];
  for (const env of args.environments) {
    probes.push({
      key: ownershipKey.githubEnvironment(owner, repository, env.name),
      what: `GitHub environment ${owner}/${repository}:${env.name}`,
      adoptKey: `${env.adoptKey}: true`,
      adopted: env.adopt,
      exists: environments.apply((names) => names.has(env.name.toLowerCase())),
      resource: env.resource,
    });
  }
  for (const variable of args.variables) {
    probes.push({
      key: ownershipKey.githubVariable(owner, repository, variable.name),
      what: `GitHub repository variable ${variable.name} of ${owner}/${repository}`,
      adoptKey: `${inRepo(repo, ".adoptVariables")}: [${variable.name}]`,
      adopted: variable.adopt,
      exists: variables.apply((names) => names.has(variable.name.toUpperCase())),
      resource: variable.resource,
    });
  }
  for (const rs of repo.rulesets) {
    const resource = args.rulesets.get(rs.name);
    if (!resource) continue;
    probes.push({
      key: ownershipKey.githubRuleset(owner, repository, rs.name),
      what: `GitHub ruleset ${rs.name} of ${owner}/${repository}`,
      adoptKey: `${inRepo(repo, `.rulesets[${rs.name}].adopt`)}: <its id> (gh api repos/${owner}/${repository}/rulesets --jq '.[] | [.id, .name]')`,
      adopted: rs.adopt !== undefined,
      // An adopted ruleset is looked up by its id, since it may be renamed by the update.
      exists: rulesets.apply((list) => list.some((r) => (rs.adopt !== undefined ? r.id === rs.adopt : r.name.toLowerCase() === rs.name.toLowerCase()))),
      resource,
    });
  }
  // An adopted environment may have variables already: only adoptVariables may exist.
  for (const [envName, envVariables] of args.adoptedEnvironmentVariables) {
    const existing = github.getActionsEnvironmentVariablesOutput({ name: repository, environment: envName }, opts).apply((r) => new Set(r.variables.map((v) => v.name.toUpperCase())));
    for (const variable of envVariables) {
      probes.push({
        key: ownershipKey.githubEnvironmentVariable(owner, repository, envName, variable.name),
        what: `variable ${variable.name} of the adopted GitHub environment ${owner}/${repository}:${envName}`,
        adoptKey: `${inRepo(repo, `.environments[${envName}].adoptVariables`)}: [${variable.name}]`,
        adopted: variable.adopt,
        exists: existing.apply((names) => names.has(variable.name.toUpperCase())),
        resource: variable.resource,
      });
    }
  }

  // Each existing environment's deployment policies, read once for the imports below and the check of undeclared ones.
  const policies = new Map(args.environments.map((env) => [env, listedPolicies(owner, repository, env.name, environments.apply((names) => names.has(env.name.toLowerCase())), opts)]));
  const policiesOf = (env: EnvironmentToCheck) => policies.get(env) ?? pulumi.output([]);

  // Deployment policies of adopted environments: ids are known only here, so the import is printed.
  const stack = pulumi.getStack();
  const type = ENVIRONMENT_TYPES.policy;
  for (const env of args.environments.filter((e) => e.adopt)) {
    const listed = policiesOf(env);
    // One deployFrom lists: GitHub answers its create with 303 ("Response if the same branch name pattern
    // already exists", REST: Create a deployment branch policy), not with the policy, so it is imported first.
    for (const [pattern, resource] of env.policies) {
      const found = listed.apply((policies) => policies.find((policy) => patternOf(policy) === pattern));
      const [kind, name] = [pattern.slice(0, pattern.indexOf(":")), pattern.slice(pattern.indexOf(":") + 1)];
      probes.push({
        key: ownershipKey.githubDeploymentPolicy(owner, repository, env.name, pattern),
        what: `the ${kind} policy ${name} of the adopted GitHub environment ${owner}/${repository}:${env.name}`,
        adoptKey: "",
        adopted: false,
        exists: found.apply((policy) => policy !== undefined),
        resource,
        remedy: pulumi
          .all([found, resource.urn, env.component.urn])
          .apply(
            ([policy, urn, componentUrn]) =>
              `import it under its environment first: pulumi import ${type} '${urn.slice(urn.lastIndexOf("::") + 2)}' ${repository}:${env.name}:${policy?.id ?? "<id>"} --parent 'environment=${componentUrn}' --stack ${stack} --generate-code=false --yes`,
          ),
      });
    }
  }

  const environmentSecrets = new Set(repo.environments.flatMap((e) => e.secrets.map((s) => s.toUpperCase())));
  const managedSecrets = new Set(repo.secrets.map((s) => s.toUpperCase()));
  const retired = new Set(repo.retiredSecrets.map((s) => s.toUpperCase()));
  if (environmentSecrets.size + retired.size > 0) {
    github.getActionsSecretsOutput({ name: repository }, opts).apply((r) => {
      for (const name of r.secrets.map((s) => s.name.toUpperCase())) {
        const command = `gh secret delete ${name} --repo ${owner}/${repository}`;
        if (retired.has(name)) {
          pulumi.log.warn(`repository secret ${name} of ${owner}/${repository} is listed under retiredSecrets and still exists: every workflow on every branch can read it; delete it: ${command}`, parent);
        } else if (environmentSecrets.has(name) && !managedSecrets.has(name)) {
          pulumi.log.warn(
            `repository secret ${name} of ${owner}/${repository} has the name of an environment secret: jobs outside that environment still read the repository one; delete it once the environment secret is set: ${command}`,
            parent,
          );
        }
      }
    });
  }

  return pulumi
    .all([takeOverProblems(probes, args.managedBefore), undeclaredInEnvironments(args, environments, policiesOf, opts)])
    .apply(([existingObjects, undeclared]) => [...existingObjects, ...undeclared]);
}
