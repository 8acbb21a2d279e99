/**
 * How many GitHub API requests a real `pulumi preview` and a `pulumi refresh` of the planned stack
 * make, from the plan's invokes and resources. The GitHub provider sends them one at a time, and a
 * GitHub App installation may make 5,000 an hour (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api).
 *
 * Counted as integrations/terraform-provider-github v6.13.0 (under @pulumi/github 6.15) makes them,
 * with every list fitting one page of 100: each further 100 teams, members or repositories add a
 * request per list.
 */

/** Requests one call of a GitHub data source makes, by function token and arguments. */
const INVOKE_REQUESTS: Record<string, (args: Record<string, unknown>) => number> = {
  // GET /orgs/ORG/teams/SLUG; without summaryOnly also the member and repository lists (data_source_github_team.go).
  "github:index/getTeam:getTeam": (args) => (args.summaryOnly === true ? 1 : 3),
  // GET /users/LOGIN, its GPG keys and its SSH keys (data_source_github_user.go).
  "github:index/getUser:getUser": () => 3,
  // GET /repos/OWNER/REPO, and its Pages site and licence when it has them (data_source_github_repository.go): counted.
  "github:index/getRepository:getRepository": () => 3,
  // GET /repos/OWNER/REPO/teams (data_source_github_repository_teams.go).
  "github:index/getRepositoryTeams:getRepositoryTeams": () => 1,
  // GET /repos/OWNER/REPO/actions/oidc/customization/sub.
  "github:index/getActionsRepositoryOidcSubjectClaimCustomizationTemplate:getActionsRepositoryOidcSubjectClaimCustomizationTemplate": () => 1,
};

/** GitHub API requests of a preview and of a refresh. */
export interface GithubApiCalls {
  /** The provider's start (GET /orgs/OWNER, config.go ConfigureOwner) and every data-source call. */
  preview: number;
  /** The provider's start and one read (one GET) per GitHub resource in the state. */
  refresh: number;
}

export function githubApiCalls(resources: readonly { type: string; custom: boolean }[], invokes: readonly { token: string; args: Record<string, unknown> }[]): GithubApiCalls {
  const githubInvokes = invokes.filter((i) => i.token.startsWith("github:"));
  const githubResources = resources.filter((r) => r.custom && r.type.startsWith("github:") && !r.type.startsWith("pulumi:providers:"));
  if (githubInvokes.length === 0 && githubResources.length === 0) return { preview: 0, refresh: 0 };
  const perInvoke = (i: { token: string; args: Record<string, unknown> }) => {
    const count = INVOKE_REQUESTS[i.token];
    // A data source not in the table is at least one request.
    return count ? count(i.args) : 1;
  };
  return {
    preview: 1 + githubInvokes.reduce((sum, i) => sum + perInvoke(i), 0),
    refresh: 1 + githubResources.length,
  };
}
