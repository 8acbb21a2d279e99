/** Stack files as the CLI reads them: moved to config/ so the pipeline stack's program can read its deploy stacks too. */
export { readStackFile, stackFiles, stackNameOf, validateStackFile } from "../../config/stackFile";
