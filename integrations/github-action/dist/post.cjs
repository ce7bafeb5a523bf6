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

// integrations/github-action/src/post.ts
var post_exports = {};
__export(post_exports, {
  post: () => post
});
module.exports = __toCommonJS(post_exports);

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
function getState(env, name) {
  return env[`STATE_${name}`] ?? "";
}
function escapeData(message) {
  return message.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
function annotation(kind, message) {
  return `::${kind}::${escapeData(message)}${import_node_os.EOL}`;
}

// integrations/github-action/src/inputs.ts
var STATE = { forkId: "fork-id", command: "cachevol" };
function exitCodeFor(status) {
  return status === "success" ? 0 : 1;
}

// integrations/github-action/src/post.ts
async function post(env) {
  const forkId = getState(env, STATE.forkId);
  if (!forkId) {
    process.stdout.write("cachevol: nothing attached by the main step, nothing to finish\n");
    return 0;
  }
  const command = getState(env, STATE.command) || getInput(env, "cachevol") || "cachevol";
  const status = getInput(env, "job-status");
  const exitCode = exitCodeFor(status);
  const done = await runCachevol(command, ["finish", forkId, "--exit-code", String(exitCode), "--json"], env);
  if (done.code !== 0) {
    const why = failureOf(done);
    process.stdout.write(
      annotation("warning", `cachevol: fork ${forkId} was not finished (${why}); cachevol gc ends it.`)
    );
    return 0;
  }
  const finished = JSON.parse(done.stdout);
  process.stdout.write(
    `cachevol: fork ${forkId} ${finished.action}${finished.versionId ? ` as ${finished.versionId}` : ""} (job status ${status || "unknown"}) in ${finished.ms} ms
`
  );
  return 0;
}
post(process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stdout.write(annotation("warning", `cachevol action: ${String(error)}`));
  }
);
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  post
});
