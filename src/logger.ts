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
      redact: {
        paths: [...redactedPaths],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
