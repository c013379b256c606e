#!/usr/bin/env node
import { CommanderError } from "commander";
import { CliError } from "./client.js";
import { createProgram } from "./program.js";

// The `m2m-auth` bin. Exit codes scripts can rely on: 0 ok, 1 refused / not found / unreachable /
// failed, 2 usage (commander's own errors included). `serve` and `store check` set their own.

try {
  await createProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander has printed the message (or the help); only --help and --version end well.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof CliError) {
    process.stderr.write(`m2m-auth: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`m2m-auth: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
