import { loadStackConfig } from "./config/load";

// The program: config in, components out (DESIGN.md, data flow). Components are wired here only.
const config = loadStackConfig();

export const stage = config.stage;
