import { pino, type Logger } from "pino";

/** LoggerOptions configures createLogger. */
export interface LoggerOptions {
  level: string;
  /** destination defaults to stdout (fd 1), written asynchronously in batches. */
  destination?: pino.DestinationStream;
}

/**
 * createLogger returns the structured JSON logger. Nothing on a request path logs a secret or a
 * token; the redaction list is a second line of defence should one ever be passed by mistake.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level,
      base: { service: "m2m-auth" },
      redact: {
        paths: ["*.authorization", "*.client_secret", "*.clientSecret", "*.plain_secret", "*.plainSecret", "*.access_token", "*.token"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
