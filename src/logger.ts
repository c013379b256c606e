import { pino, type Logger } from "pino";

/** LoggerOptions configures createLogger. */
export interface LoggerOptions {
  level: string;
  /** destination defaults to stdout (fd 1), written asynchronously in batches. */
  destination?: pino.DestinationStream;
}

// Workers (M2M_WORKERS) share one stdout. A pipe keeps a write of at most PIPE_BUF bytes (4096 on
// Linux) in one piece, and the destination batches whole lines up to maxWrite: so one process's
// lines never land in the middle of another's.
/** pipeAtomicBytes is the largest write a pipe keeps whole (PIPE_BUF): the most a destination writes at once. */
export const pipeAtomicBytes = 4096;

// Field names that hold a secret or a token wherever they appear: at the top of a log line and
// one or two objects down (the deepest the service logs; pino's paths name each depth).
const secretFields = ["authorization", "client_secret", "clientSecret", "plain_secret", "plainSecret", "access_token", "token"];
const redactedPaths: readonly string[] = secretFields.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

/**
 * createLogger returns the structured JSON logger. Nothing on a request path logs a secret or a
 * token; the redaction list is a second line of defence should one ever be passed by mistake.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false, maxWrite: pipeAtomicBytes });
  return pino(
    {
      level: options.level,
      // pid tells the lines of the workers (and their primary) apart.
      base: { service: "m2m-auth", pid: process.pid },
      // "level":"warn" rather than 40: readable in a terminal, and what most log stores parse.
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [...redactedPaths],
        censor: "[redacted]",
      },
    },
    destination,
  );
}

/** OpenLoggerOptions configures openLogger: the level, and JSON lines or pino-pretty's. */
export interface OpenLoggerOptions {
  level: string;
  format: "json" | "pretty";
  /** destination defaults to stdout (fd 1), as createLogger's. */
  destination?: pino.DestinationStream & NodeJS.WritableStream;
  /** prettyModule is the package that formats for people; default "pino-pretty" (a test names a missing one). */
  prettyModule?: string;
}

// pino-pretty is a dev dependency (a production install has no use for it): loaded only when
// asked for, and a missing one leaves JSON, with a line that says why.
async function prettyStream(options: OpenLoggerOptions): Promise<pino.DestinationStream | undefined> {
  let module: typeof import("pino-pretty");
  try {
    module = (await import(options.prettyModule ?? "pino-pretty")) as typeof import("pino-pretty");
  } catch {
    return undefined;
  }
  return module.build({ destination: options.destination ?? 1, translateTime: "SYS:HH:MM:ss.l", ignore: "service", sync: false });
}

/** openLogger returns the service's logger: JSON lines, or pino-pretty's when `format` is "pretty" and the package is installed. */
export async function openLogger(options: OpenLoggerOptions): Promise<Logger> {
  const pretty = options.format === "pretty" ? await prettyStream(options) : undefined;
  const destination = pretty ?? options.destination;
  const logger = createLogger({ level: options.level, ...(destination !== undefined ? { destination } : {}) });
  if (options.format === "pretty" && pretty === undefined) {
    logger.warn("LOG_FORMAT=pretty needs the pino-pretty package (npm install --save-dev pino-pretty): writing JSON lines");
  }
  return logger;
}
