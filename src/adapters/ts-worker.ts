/**
 * Worker threads that run a TypeScript module of this project: the thread registers the TypeScript loader (tsx,
 * resolved from this module, so the process's working directory does not matter), then imports `module`.
 */
import { Worker, type WorkerOptions } from "node:worker_threads";

const TSX_API = import.meta.resolve("tsx/esm/api");

/**
 * A worker running the TypeScript module at `module` (a file URL). It never keeps the process alive by itself
 * (`unref`); `ref()` it while waiting for its replies.
 */
export function tsWorker(module: URL, options: Pick<WorkerOptions, "resourceLimits"> = {}): Worker {
  const boot = `import(${JSON.stringify(TSX_API)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); })`;
  const worker = new Worker(boot, { ...options, eval: true });
  worker.unref();
  return worker;
}
