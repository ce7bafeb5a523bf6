"use strict";
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// integrations/github-action/src/main.ts
var main_exports = {};
__export(main_exports, {
  main: () => main
});
module.exports = __toCommonJS(main_exports);

// integrations/github-action/src/cachevol.ts
var import_node_child_process = require("child_process");
function runCachevol(command, args, env) {
  return new Promise((resolve) => {
    const child = (0, import_node_child_process.spawn)(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on("error", (error) => resolve({ code: null, stdout, stderr, error }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
var USAGE_EXIT_CODE = 2;
function failureOf(result) {
  if (result.error) return result.error.message;
  for (const line of result.stderr.trim().split("\n").reverse()) {
    try {
      const { error } = JSON.parse(line);
      if (error?.message) return `${error.code ?? "ERROR"}: ${error.message}`;
    } catch {
    }
  }
  return `exit code ${result.code}`;
}

// integrations/github-action/src/inputs.ts
var import_node_path = require("path");

// integrations/github-action/src/runner-files.ts
var import_node_crypto = require("crypto");
var import_node_fs = require("fs");
var import_node_os = require("os");
function getInput(env, name) {
  return (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}
function getMultilineInput(env, name) {
  return getInput(env, name).split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
}
function getBooleanInput(env, name, fallback = false) {
  const value = getInput(env, name);
  if (value === "") return fallback;
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  throw new TypeError(`Input "${name}" must be true or false, got ${JSON.stringify(value)}.`);
}
function fileCommand(name, value) {
  let delimiter = `ghadelimiter_${(0, import_node_crypto.randomUUID)()}`;
  while (name.includes(delimiter) || value.includes(delimiter)) delimiter = `ghadelimiter_${(0, import_node_crypto.randomUUID)()}`;
  return `${name}<<${delimiter}${import_node_os.EOL}${value}${import_node_os.EOL}${delimiter}${import_node_os.EOL}`;
}
function append(env, variable, name, value) {
  const file = env[variable];
  if (!file) throw new Error(`${variable} is not set: this must run as a step of a GitHub Actions job.`);
  (0, import_node_fs.appendFileSync)(file, fileCommand(name, value), "utf8");
}
function setOutput(env, name, value) {
  append(env, "GITHUB_OUTPUT", name, value);
}
function saveState(env, name, value) {
  append(env, "GITHUB_STATE", name, value);
}
function exportVariable(env, name, value) {
  append(env, "GITHUB_ENV", name, value);
}
function escapeData(message) {
  return message.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
function annotation(kind, message) {
  return `::${kind}::${escapeData(message)}${import_node_os.EOL}`;
}

// integrations/github-action/src/inputs.ts
var STATE = { forkId: "fork-id", command: "cachevol" };
function readAttachRequest(env, cwd) {
  const paths = getMultilineInput(env, "paths");
  if (paths.length === 0) throw new TypeError('Input "paths" is required: one cache path per line.');
  const repository = env.GITHUB_REPOSITORY ?? "";
  return {
    command: getInput(env, "cachevol") || "cachevol",
    name: getInput(env, "name") || (0, import_node_path.basename)(repository) || (0, import_node_path.basename)(cwd),
    scope: getInput(env, "scope") || repository || "default",
    paths,
    size: getInput(env, "size"),
    commit: getInput(env, "commit"),
    fallbacks: getMultilineInput(env, "fallbacks"),
    failOnMiss: getBooleanInput(env, "fail-on-miss"),
    workdir: getInput(env, "working-directory") || env.GITHUB_WORKSPACE || cwd,
    lease: getInput(env, "lease") || "6h",
    job: [
      "github",
      repository,
      env.GITHUB_RUN_ID ?? "0",
      env.GITHUB_RUN_ATTEMPT ?? "1",
      env.GITHUB_JOB ?? "job"
    ].join(":")
  };
}
function attachArgs(request) {
  return [
    "attach",
    request.name,
    ...request.paths.flatMap((path) => ["--path", path]),
    "--scope",
    request.scope,
    ...request.size ? ["--size", request.size] : [],
    ...request.commit ? ["--commit", request.commit] : [],
    ...request.fallbacks.flatMap((fallback) => ["--fallback", fallback]),
    "--workdir",
    request.workdir,
    "--job",
    request.job,
    "--lease",
    request.lease,
    "--json"
  ];
}

// integrations/github-action/src/main.ts
function fail(message) {
  process.stdout.write(annotation("error", message));
  return 1;
}
function outputs(env, result, forkId) {
  setOutput(env, "result", result);
  setOutput(env, "cache-hit", String(result === "hit"));
  setOutput(env, "fork-id", forkId);
}
async function main(env, cwd) {
  let request;
  try {
    request = readAttachRequest(env, cwd);
  } catch (error) {
    return fail(error.message);
  }
  saveState(env, STATE.command, request.command);
  const label = `${request.scope}/${request.name}`;
  const attached = await runCachevol(request.command, attachArgs(request), env);
  if (attached.code === USAGE_EXIT_CODE) return fail(`${label}: ${failureOf(attached)}`);
  if (attached.code !== 0) {
    const why = attached.error ? `${request.command} could not be started (${attached.error.message}); install @cachevol/cli on the runner or set the "cachevol" input` : failureOf(attached);
    outputs(env, "miss", "");
    if (request.failOnMiss) return fail(`${label}: not cached: ${why}, and fail-on-miss is set.`);
    process.stdout.write(annotation("warning", `${label}: not cached this run: ${why}.`));
    return 0;
  }
  const fork = JSON.parse(attached.stdout);
  if (request.failOnMiss && fork.result === "miss" && fork.source === null) {
    await runCachevol(request.command, ["abandon", fork.forkId], env);
    outputs(env, "miss", "");
    return fail(`${label}: no usable version (a miss), and fail-on-miss is set.`);
  }
  saveState(env, STATE.forkId, fork.forkId);
  outputs(env, fork.result, fork.forkId);
  exportVariable(env, "CACHEVOL_FORK_ID", fork.forkId);
  exportVariable(env, "CACHEVOL_RESULT", fork.result);
  const from = fork.source ? `, restored from ${fork.source.scope}/${fork.source.name} (${fork.source.versionId})` : fork.baseVersionId ? ` (${fork.baseVersionId})` : "";
  process.stdout.write(`cachevol: ${label}: ${fork.result}${from}, fork ${fork.forkId}
`);
  return 0;
}
main(process.env, process.cwd()).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.exitCode = fail(`cachevol action: ${error.stack ?? String(error)}`);
  }
);
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  main
});
