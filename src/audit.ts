import { pino, type Logger } from "pino";
import { pipeAtomicBytes } from "./logger.js";

// Who changed what, as one JSON line per event, apart from the request log: an operator can keep
// these longer, ship them elsewhere, or alert on them. An event never holds a secret or a token:
// it names clients, organizations and keys by their ids only.

/** AuditOutcome is how an audited act ended: done, failed (bad input, not found, store down), or refused (not allowed, not authenticated, throttled). */
export type AuditOutcome = "success" | "failure" | "refused";

/** AuditActor is who acted: a client (with its organization; none for the environment's admin), or the service itself. */
export interface AuditActor {
  clientId?: string | undefined;
  organizationId?: string | undefined;
  /** system names the service's own actor (e.g. "key-rotation-schedule") when no client acted. */
  system?: string | undefined;
}

/** AuditTarget names what was acted on, by ids only. */
export interface AuditTarget {
  organizationId?: string | undefined;
  clientId?: string | undefined;
  secretId?: string | undefined;
  resourceServerId?: string | undefined;
  keyId?: string | undefined;
}

/**
 * AuditEvent is one audited act. `action` is the management RPC's name (`CreateOrganizationClient`,
 * `RotateSigningKey`, …) or `AuthenticateClient` for a failed client authentication.
 */
export interface AuditEvent {
  action: string;
  outcome: AuditOutcome;
  actor: AuditActor;
  target?: AuditTarget | undefined;
  /** code is the error's stable code when the outcome is not success (e.g. `permission_denied`, `resource_exhausted`). */
  code?: string | undefined;
  /** reason is a short, caller-safe explanation of a failure or refusal. */
  reason?: string | undefined;
  requestId?: string | undefined;
  sourceAddress?: string | undefined;
}

/** AuditLog records audit events; recording never throws and never waits. */
export interface AuditLog {
  record(event: AuditEvent): void;
}

/** AuditLogOptions configures createAuditLog. */
export interface AuditLogOptions {
  /** logger is the service log: every event is a line there with `audit: true`. */
  logger: Logger;
  /** destination is an optional separate stream (M2M_AUDIT_LOG) that receives every event as well. */
  destination?: pino.DestinationStream | undefined;
}

// Absent fields are dropped rather than written as null, so a line holds only what is known.
function compact<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== "")) as Partial<T>;
}

/** createAuditLog returns the audit log: one `info` line per event, `audit: true`, to the service log and the optional stream. */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { destination } = options;
  // An operator who quiets the service log (LOG_LEVEL=warn) keeps the audit trail in it; only
  // `silent` (tests, or a deployment that relies on M2M_AUDIT_LOG alone) drops it there.
  const logger = options.logger.level === "silent" ? options.logger : options.logger.child({}, { level: "info" });
  const separate = destination === undefined ? undefined : pino({ base: { service: "m2m-auth", pid: process.pid } }, destination);
  return {
    record(event) {
      const line = {
        audit: true,
        action: event.action,
        outcome: event.outcome,
        actor: compact(event.actor),
        ...(event.target === undefined ? {} : { target: compact(event.target) }),
        ...compact({ code: event.code, reason: event.reason, requestId: event.requestId, sourceAddress: event.sourceAddress }),
      };
      logger.info(line, "audit");
      separate?.info(line, "audit");
    },
  };
}

/** AuditFile is the separate audit stream (M2M_AUDIT_LOG), open for append. */
export interface AuditFile {
  /** destination is the stream to give createAuditLog. */
  destination: pino.DestinationStream;
  /** close writes what is buffered and closes the file; call it after the server closed. */
  close(): Promise<void>;
}

/**
 * openAuditFile opens `path` for append (O_APPEND, no directory made: config.ts checked it opens).
 * Workers (M2M_WORKERS) append to one file: each write is whole lines of at most pipeAtomicBytes
 * in one append, so no process's line lands inside another's. A failed write goes to `onError`.
 */
export function openAuditFile(path: string, onError: (err: Error) => void): AuditFile {
  const destination = pino.destination({ dest: path, append: true, mkdir: false, sync: false, maxWrite: pipeAtomicBytes });
  destination.on("error", onError);
  let closed: Promise<void> | undefined;
  return {
    destination,
    close() {
      closed ??= new Promise<void>((resolve) => {
        destination.once("close", () => resolve());
        destination.once("error", () => resolve());
        destination.end();
      });
      return closed;
    },
  };
}

/** noAudit records nothing: for a server composed without an audit log (tests, embedding). */
export const noAudit: AuditLog = { record: () => undefined };
