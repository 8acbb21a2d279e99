import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";

/** A repository as GitHub names it, after the checks of `GithubLookups.repository`. */
export interface VerifiedRepository {
  /** `OWNER/NAME` as GitHub spells it (equal to the config's spelling, or the check failed). */
  fullName: string;
  /** GitHub's numeric repository id. */
  id: number;
}

/**
 * The GitHub lookups of one stack, each made once however many environments need it: the
 * provider sends one request at a time, and a preview, an `up` and every drift run repeat them
 * all. Team ids come from `getTeam` with `summaryOnly` (one request, no member or repository
 * pages); which teams may review is read once per repository from its team list.
 */
export class GithubLookups {
  private readonly teamIds = new Map<string, pulumi.Output<number>>();
  private readonly userIds = new Map<string, pulumi.Output<number>>();
  private readonly repositoryTeams = new Map<string, pulumi.Output<Set<string>>>();
  private readonly answers = new Map<string, pulumi.Output<github.GetRepositoryResult>>();
  private readonly repositories = new Map<string, pulumi.Output<VerifiedRepository>>();
  private readonly templates = new Map<string, pulumi.Output<string>>();
  private readonly subjectForms = new Map<string, pulumi.Output<"immutable" | "name-only" | undefined>>();
  private plan?: pulumi.Output<string | undefined>;

  /** @param owner The organisation or user of every repository looked up (github:owner, the provider's owner). */
  constructor(readonly owner: string) {}

  /** The numeric id of a team of the owner, as environment reviewers name it. */
  teamId(slug: string): pulumi.Output<number> {
    return once(this.teamIds, slug.toLowerCase(), () => github.getTeamOutput({ slug, summaryOnly: true }).id.apply(Number));
  }

  /** The numeric id of a user (logins are case-insensitive). */
  userId(login: string): pulumi.Output<number> {
    return once(this.userIds, login.toLowerCase(), () => github.getUserOutput({ username: login }).id.apply(Number));
  }

  /**
   * Slugs of the teams with access to a repository (GET /repos/OWNER/REPO/teams). GitHub silently
   * drops a required reviewer team that is not among them.
   */
  teamsWithAccess(repository: string): pulumi.Output<Set<string>> {
    return once(this.repositoryTeams, repository.toLowerCase(), () =>
      github.getRepositoryTeamsOutput({ name: repository }).teams.apply((teams) => new Set(teams.map((t) => t.slug.toLowerCase()))),
    );
  }

  /**
   * The repository as GitHub names it; fails the preview when it does not exist, when the config
   * spells the owner or the repository differently from GitHub (Entra ID, npm and Google compare
   * these names case-sensitively, so a login would fail much later), or when the configured id is
   * not GitHub's.
   */
  repository(name: string, configuredId?: number): pulumi.Output<VerifiedRepository> {
    const configured = `${this.owner}/${name}`;
    return once(this.repositories, name.toLowerCase(), () =>
      // The data source answers an empty result, not an error, for a repository it cannot find
      // (integrations/terraform-provider-github github/data_source_github_repository.go).
      this.answer(name).apply((repo) => {
        if (!repo.fullName) {
          throw new Error(`GitHub has no repository ${configured}, or the token of the github provider cannot read it`);
        }
        if (repo.fullName !== configured) {
          const [owner, repository] = repo.fullName.split("/");
          throw new Error(
            `GitHub spells ${configured} as ${repo.fullName}: Entra ID, npm and Google compare owner and repository names case-sensitively, so CI logins would fail; ` +
              `write github:owner: ${owner} and the repository name ${repository} exactly as GitHub does`,
          );
        }
        if (configuredId !== undefined && repo.repoId !== configuredId) {
          throw new Error(`the id of ${configured} is ${repo.repoId} on GitHub, not ${configuredId} as configured; set the repository's id to ${repo.repoId}`);
        }
        return { fullName: repo.fullName, id: repo.repoId };
      }),
    );
  }

  /** The repository's visibility as GitHub shows it (`public`, `private`, `internal`); undefined when the answer has none. */
  visibility(name: string): pulumi.Output<string | undefined> {
    return this.answer(name).apply((repo) => repo.visibility || undefined);
  }

  /**
   * The plan of the owner as GitHub names it (`free`, `team`, `enterprise`: GET /orgs/OWNER, whose
   * `plan` GitHub shows to the organisation's owners only); undefined when it does not show one, as
   * to a user account (404) or to a token that does not belong to an owner.
   */
  ownerPlan(): pulumi.Output<string | undefined> {
    this.plan ??= github.getRestApiOutput({ endpoint: `orgs/${this.owner}` }).apply((r) => {
      if (r.code !== 200) return undefined;
      const body: unknown = JSON.parse(r.body);
      const plan = typeof body === "object" && body !== null && "plan" in body ? body.plan : undefined;
      return typeof plan === "object" && plan !== null && "name" in plan && typeof plan.name === "string" ? plan.name : undefined;
    });
    return this.plan;
  }

  /**
   * The OIDC subject form GitHub sends for the repository's tokens: `immutable` when its
   * customization's `use_immutable_subject` is true (GET repos/OWNER/REPO/actions/oidc/customization/sub),
   * `name-only` when false; undefined when the answer has no such field. The provider's
   * customization data source returns only the template, so the endpoint is read through getRestApi.
   */
  subjectForm(repository: string): pulumi.Output<"immutable" | "name-only" | undefined> {
    return once(this.subjectForms, repository.toLowerCase(), () =>
      github.getRestApiOutput({ endpoint: `repos/${this.owner}/${repository}/actions/oidc/customization/sub` }).apply((r) => {
        if (r.code !== 200) return undefined;
        const body: unknown = JSON.parse(r.body);
        const immutable = typeof body === "object" && body !== null && "use_immutable_subject" in body ? body.use_immutable_subject : undefined;
        return typeof immutable === "boolean" ? (immutable ? "immutable" : "name-only") : undefined;
      }),
    );
  }

  /** GitHub's answer for a repository of the owner, read once. */
  private answer(name: string): pulumi.Output<github.GetRepositoryResult> {
    return once(this.answers, name.toLowerCase(), () => github.getRepositoryOutput({ fullName: `${this.owner}/${name}` }));
  }

  /**
   * Resolves once the repository is known to use GitHub's default OIDC subject template; fails the
   * preview otherwise. A custom template (of the repository, or of the organisation it inherits)
   * changes every token's `sub`, and no identity of this stack would match it.
   */
  defaultSubjectTemplate(repository: string): pulumi.Output<string> {
    const fullName = `${this.owner}/${repository}`;
    return once(this.templates, repository.toLowerCase(), () =>
      github.getActionsRepositoryOidcSubjectClaimCustomizationTemplateOutput({ name: repository }).apply((template) => {
        if (!template.useDefault) {
          const keys = template.includeClaimKeys.length > 0 ? `its own claim keys ${JSON.stringify(template.includeClaimKeys)}` : "the organisation's template";
          throw new Error(
            `${fullName} does not use GitHub's default OIDC subject template (use_default is false; it uses ${keys}), so its tokens carry a sub that no CI identity of this stack trusts; ` +
              `switch it back with gh api -X PUT repos/${fullName}/actions/oidc/customization/sub -F use_default=true, or remove the access of its environments`,
          );
        }
        return fullName;
      }),
    );
  }
}

function once<T>(cache: Map<string, T>, key: string, make: () => T): T {
  const found = cache.get(key);
  if (found !== undefined) return found;
  const made = make();
  cache.set(key, made);
  return made;
}
