#!/usr/bin/env node
// Runs the TypeScript CLI (src/cli/main.ts) through tsx's ESM loader; works from any cwd.
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
