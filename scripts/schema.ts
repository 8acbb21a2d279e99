/**
 * Writes stack-config.schema.json, the JSON Schema of `Pulumi.<stack>.yaml`, generated from the
 * zod schema so that editors validate stack files (yaml-language-server). `--check` exits 1 when
 * the committed file is stale.
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { PROVIDER_KEYS, stackConfigSchema } from "../config/schema";

export const SCHEMA_FILE = path.resolve(__dirname, "..", "stack-config.schema.json");

export function stackFileJsonSchema(): Record<string, unknown> {
  const configSchema = z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any", target: "draft-2020-12" });
  const { $schema: _ignored, ...config } = configSchema;
  const known = Object.keys(stackConfigSchema.shape);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://github.com/release-infra/release-infra/stack-config.schema.json",
    title: "release-infra stack file (Pulumi.<stack>.yaml)",
    description: "Generated from config/schema.ts by `npm run schema`; do not edit by hand.",
    type: "object",
    properties: {
      config: {
        ...config,
        // Keys of other namespaces are provider settings; only release-infra:* keys must be known.
        additionalProperties: true,
        propertyNames: { anyOf: [{ enum: known }, { not: { pattern: "^release-infra:" } }] },
        description: `Stack settings. Read by release-infra: ${known.join(", ")}; ${PROVIDER_KEYS.join(", ")} are also read by the providers.`,
      },
      secretsprovider: { type: "string", description: "Secrets provider of the stack (pulumi stack init --secrets-provider), e.g. azurekeyvault://..." },
      encryptedkey: { type: "string", description: "The stack's data key, encrypted by the secrets provider; written by the Pulumi CLI." },
      encryptionsalt: { type: "string", description: "Salt of a passphrase secrets provider; written by the Pulumi CLI." },
      environment: { description: "Pulumi ESC environments imported into the stack's config." },
    },
    required: ["config"],
    additionalProperties: false,
  };
}

export function renderSchema(): string {
  return `${JSON.stringify(stackFileJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  const rendered = renderSchema();
  if (process.argv.includes("--check")) {
    const current = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, "utf8") : "";
    if (current !== rendered) {
      process.stderr.write("stack-config.schema.json is stale; run: npm run schema\n");
      process.exit(1);
    }
  } else {
    fs.writeFileSync(SCHEMA_FILE, rendered);
    process.stdout.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
  }
}
