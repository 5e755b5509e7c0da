// Runs one bundled case under node the way jobvisor runs it: the default export is called
// with the payload and a context, and the awaited result is printed as JSON.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

// The bundles are built for web-like runtimes, which name the global object `self` as well;
// node does not, and libraries' browser builds (joi's) read it at load time.
globalThis.self ??= globalThis;

const [bundle, payloadFile] = process.argv.slice(2);
const payload = JSON.parse(readFileSync(payloadFile, "utf8"));
const module = await import(pathToFileURL(bundle).href);
const ctx = { job: { id: "compat", attempt: 1, maxAttempts: 1, queue: "default", script: bundle } };
const result = await module.default(payload, ctx);
process.stdout.write(JSON.stringify(result) + "\n");
