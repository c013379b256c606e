import { createInterface } from "node:readline/promises";
import { InvalidArgumentError, type Command } from "commander";
import { CliError, connectApi, explain, type Api } from "./client.js";
import { createOutput, type Output } from "./output.js";

// What every command shares: the global options, one wrapper that turns API and network failures
// into the CLI's exit codes, the repeatable-flag and number parsers, the delete confirmation.

/** Globals are the options every command reads (declared on the root program). */
export interface Globals {
  url: string;
  clientId?: string;
  clientSecret?: string;
  clientSecretFile?: string;
  json?: boolean;
}

/** Context is what an action gets: the global options and where to print. */
export interface Context {
  globals: Globals;
  out: Output;
}

/** contextOf reads the global options of the command being run. */
export function contextOf(command: Command): Context {
  const globals = command.optsWithGlobals<Globals>();
  return { globals, out: createOutput(globals.json === true) };
}

/** withErrors runs `fn`, turning a Connect or network failure into a CliError (exit 1). */
export async function withErrors<T>(url: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw explain(err, url) ?? err;
  }
}

/** withApi runs `fn` with the management services' clients, authorized by one token. */
export function withApi(command: Command, fn: (api: Api, context: Context) => Promise<void>): Promise<void> {
  const context = contextOf(command);
  return withErrors(context.globals.url, async () => fn(await connectApi(context.globals.url, context.globals), context));
}

/** collect makes an option repeatable: `--scope a --scope b`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** oneOf returns a parser of a repeatable option whose values must be among `choices`, or fail as usage (exit 2). */
export function oneOf(choices: readonly string[]): (value: string, previous?: string[]) => string[] {
  return (value, previous = []) => {
    if (!choices.includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}.`);
    return [...previous, value];
  };
}

/** integer parses a whole number option, or fails as usage (exit 2). */
export function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("not a whole number.");
  return Number(value);
}

/** claim parses `key=value` (the value may hold `=`). */
export function claim(value: string, previous: { key: string; value: string }[] = []): { key: string; value: string }[] {
  const at = value.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError("expected key=value.");
  return [...previous, { key: value.slice(0, at), value: value.slice(at + 1) }];
}

/** example adds an "Example" section to a command's --help. */
export function example(command: Command, ...lines: string[]): Command {
  return command.addHelpText("after", `\nExample:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`);
}

/**
 * confirm asks before a destructive delete. Without a terminal nobody can answer, so a script
 * must say --yes: refusing (exit 2) is safer than deleting or hanging on a prompt.
 */
export async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes === true) return;
  if (!process.stdin.isTTY) throw new CliError(`${question}: stdin is not a terminal, pass --yes to confirm`, 2);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question}? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("not confirmed: nothing deleted", 1);
  } finally {
    prompt.close();
  }
}
