/**
 * The plan as a reviewer reads it in a terminal. Without a base: the summary, the access map, then
 * the resource tree. With a base (--diff): the changes' counts and access changes first, then the
 * summary and the access map, then each changed resource instead of the tree.
 */
import type { Violation } from "../../../policy/check";
import type { PlanDocument } from "../planStack";
import { renderTree } from "../render";
import { accessMap, renderAccessMap } from "./accessMap";
import { countsLine, type PlanDiff, renderAccessChanges, renderResourceChanges } from "./diff";
import { renderSummary, summarize } from "./summary";

export interface Review {
  plan: PlanDocument;
  /** The policy pack's findings over the plan. */
  policy: Violation[];
  /** --policy: mandatory findings decide the exit code. */
  policyEnforced: boolean;
  /** --full: the tree with every input. */
  full: boolean;
  /** --diff: the changes against a base plan, and how to name the base. */
  diff?: { diff: PlanDiff; label: string };
}

export function renderText(review: Review): string {
  const summary = renderSummary(summarize(review.plan, review.policy, review.policyEnforced));
  const access = renderAccessMap(accessMap(review.plan));
  if (!review.diff) {
    return [...summary, "", ...access, "", `Resources${review.full ? "" : " (repeated inputs folded; --full shows every input)"}:`, ...renderTree(review.plan, { full: review.full })].join("\n");
  }
  const { diff, label } = review.diff;
  return [
    `Changes against ${label} (stack ${diff.stack}): ${countsLine(diff)}`,
    ...renderAccessChanges(diff),
    "",
    ...summary,
    "",
    ...access,
    "",
    ...renderResourceChanges(diff, review.plan, review.full),
  ].join("\n");
}
