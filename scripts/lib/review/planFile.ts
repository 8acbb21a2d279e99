/**
 * Reads a saved plan JSON (`npm run -s plan -- --json`) for --diff and --from. The file may come
 * from anywhere, a fork's pull request included, so it is data: its size is bounded before it is
 * parsed, its shape is checked field by field, and nothing in it is ever executed.
 */
import { githubApiCalls } from "../githubApiCalls";
import * as fs from "fs";
import { z } from "zod";
import type { WireValue } from "../../mocks";
import type { PlanDocument } from "../planStack";
import { STAGES, type StageConfig } from "../../../policy/policies";

/** Plans of this program are far smaller (the prod stack's is about 0.2 MB). */
export const MAX_PLAN_BYTES = 32 * 1024 * 1024;
const MAX_RESOURCES = 50_000;

const wire: z.ZodType<WireValue> = z.lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(wire), z.record(z.string(), wire)]));

const resource = z.object({
  urn: z.string(),
  type: z.string(),
  name: z.string(),
  parent: z.string().nullable(),
  custom: z.boolean(),
  inputs: z.record(z.string(), wire),
  dependsOn: z.array(z.string()),
  protect: z.boolean(),
  retainOnDelete: z.boolean(),
  deleteBeforeReplace: z.boolean(),
  ignoreChanges: z.array(z.string()),
  // Plans written before these fields existed have neither.
  replaceOnChanges: z.array(z.string()).default([]),
  aliases: z.array(z.string()).default([]),
  provider: z.string().optional(),
  importId: z.string().optional(),
});

const planDocument = z.object({
  project: z.literal("release-infra"),
  stack: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, "a stack name"),
  resources: z.array(resource).max(MAX_RESOURCES),
  outputs: z.record(z.string(), wire),
  warnings: z.array(z.string()),
  invokes: z.array(z.object({ token: z.string(), args: z.record(z.string(), wire) })),
  // Plans saved before this field existed have none.
  policyConfig: z.object({ stage: z.enum(STAGES), pipelineStack: z.boolean() }).optional(),
  policy: z.array(z.object({ policy: z.string(), urn: z.string(), message: z.string(), enforcement: z.enum(["mandatory", "advisory"]) })).optional(),
  placeholders: z.record(z.string().regex(/^\d+$/), z.string()).optional(),
});

const allDocument = z.object({ project: z.literal("release-infra"), stacks: z.array(z.unknown()) });

export class PlanFileError extends Error {}

function problem(display: string, error: z.ZodError): string {
  const issue = error.issues[0];
  const at = issue?.path.length ? issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") : "the document";
  return `${display}: not a plan JSON of release-infra (npm run -s plan -- --stack NAME --json): ${at}: ${issue?.message ?? "invalid"}`;
}

/**
 * The plan of `stack` in a plan JSON file (one stack's document, or `--all`'s, from which the stack
 * is picked); any stack when `stack` is undefined. Throws PlanFileError with one line.
 */
export function readPlanFile(file: string, display: string, stack?: string): PlanDocument {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new PlanFileError(`${display}: file not found`);
  }
  if (size > MAX_PLAN_BYTES) throw new PlanFileError(`${display}: ${size} bytes, more than a plan JSON can be (${MAX_PLAN_BYTES})`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new PlanFileError(`${display}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const all = allDocument.safeParse(json);
  if (all.success) {
    const stacks = all.data.stacks.map((s, i) => {
      const parsed = planDocument.safeParse(s);
      if (!parsed.success) throw new PlanFileError(problem(`${display}: stacks[${i}]`, parsed.error));
      return withApiCalls(parsed.data);
    });
    const found = stack === undefined && stacks.length === 1 ? stacks[0] : stacks.find((s) => s.stack === stack);
    if (!found) throw new PlanFileError(`${display}: has no plan of stack ${stack ?? "(one stack)"} (it has ${stacks.map((s) => s.stack).join(", ") || "none"})`);
    return found;
  }
  const parsed = planDocument.safeParse(json);
  if (!parsed.success) throw new PlanFileError(problem(display, parsed.error));
  return withApiCalls(parsed.data);
}

/**
 * The policy config of a plan saved before plans carried it: the stage the program put in its
 * outputs (prod, the strictest, when missing), and not the pipeline stack (the config that
 * relaxes a rule).
 */
function legacyPolicyConfig(outputs: Record<string, WireValue>): StageConfig {
  return { stage: STAGES.find((s) => s === outputs.stage) ?? "prod", pipelineStack: false };
}

/**
 * A saved plan with its GitHub API count, recomputed from its resources and invokes (plans saved
 * before the count existed have none), and its policy config.
 */
function withApiCalls(plan: z.output<typeof planDocument>): PlanDocument {
  return { ...plan, policyConfig: plan.policyConfig ?? legacyPolicyConfig(plan.outputs), githubApiCalls: githubApiCalls(plan.resources, plan.invokes) };
}
