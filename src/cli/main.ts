#!/usr/bin/env node
import { CommanderError } from "commander";
import { CliError } from "./client.js";

// The `m2m-auth` bin. Exit codes scripts can rely on: 0 ok, 1 refused / not found / unreachable /
// failed, 2 usage (commander's own errors included). `serve` and `store check` set their own.

try {
  // A bare `serve` (what npm start runs) loads the service alone: the command tree's modules
  // (commander, the API clients) would add their load time to every restart for nothing.
  if (process.argv.length === 3 && process.argv[2] === "serve") await import("../main.js");
  else {
    // A reader that stops early (`m2m-auth clients list | head`) closes the pipe: that ends the
    // output, quietly, not the process with an unhandled EPIPE and a stack trace.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
      process.exit();
    });
    await (await import("./program.js")).createProgram().parseAsync(process.argv);
  }
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
