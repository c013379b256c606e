import type { LoadSample } from "../load.js";
import { int, ms, table } from "../table.js";
import type { ListingResult } from "./listing.js";
import type { KeyMemory } from "./memory.js";
import type { ScaleOptions } from "./options.js";

/** ScaleMemory is Redis memory around one registration, whole-server and per key, in bytes. */
export interface ScaleMemory extends KeyMemory {
  usedBefore: number;
  usedAfter: number;
  /** usedPerClient is the used_memory growth over the registration divided by the clients registered. */
  usedPerClient: number;
  /** otherKeysDelta counts keys that appeared meanwhile beyond the records and the index: others' writes. */
  otherKeysDelta: number;
  /** indexPerClient is the index's MEMORY USAGE divided by its entries. */
  indexPerClient: number;
  /** secretUseBytes is a secret-use hash's MEMORY USAGE, which a client gets once it has issued a token. */
  secretUseBytes?: number;
}

/** TokenLoad is one token load of the scale curve: `clients` distinct clients, each connection sending them in turn. */
export interface TokenLoad extends LoadSample {
  clients: number;
  /** redisPerToken is what the server sent Redis per response, as its own client counted: all commands, and GETs (record reads). */
  redisPerToken: { all: number; get: number };
}

/** ScalePoint is one point of the scale curve: one client count, measured on a server of its own. */
export interface ScalePoint {
  clients: number;
  organizationId?: string;
  registration?: { ms: number; perSec: number; concurrency: number };
  memory?: ScaleMemory;
  /** tokens are the token load of one client (hot) and of many in turn (rotate). */
  tokens?: { hot: TokenLoad; rotate: TokenLoad };
  listing?: ListingResult;
  /** loadavg is the machine's 1-minute load average when the point started and ended. */
  loadavg?: { start: number; end: number };
  skipped?: string;
}

/** ScaleReport is the scale group's section of the report. */
export interface ScaleReport {
  options: ScaleOptions;
  points: ScalePoint[];
  skipped?: string;
}

// used_memory drifts by itself (client buffers, allocator, other users of a shared Redis): a
// growth below this says nothing per client.
const noiseBytes = 1024 * 1024;
const seconds = (msTaken: number) => (msTaken < 1000 ? `${int(msTaken)} ms` : `${(msTaken / 1000).toFixed(1)} s`);
const bytes = (n: number | undefined) => (n === undefined ? "—" : int(n));
const tokenCells = (l: TokenLoad) => [
  int(l.clients),
  int(l.okPerSec),
  ms(l.latencyMs.p50),
  ms(l.latencyMs.p99),
  `${l.redisPerToken.get.toFixed(2)} / ${l.redisPerToken.all.toFixed(2)}`,
  int(l.non2xx + l.errors + l.timeouts),
];
const loadavgCell = (p: ScalePoint) => `${(p.loadavg?.start ?? 0).toFixed(1)} → ${(p.loadavg?.end ?? 0).toFixed(1)}`;

/** formatScaleSection renders the scale curve: registration and memory, token latency, listing latency. */
export function formatScaleSection(report: ScaleReport): string[] {
  if (report.skipped) return [`Scale curve skipped: ${report.skipped}`, ""];
  const { options } = report;
  const done = report.points.filter((p) => p.skipped === undefined);
  const memoryRows = done.map((p) => {
    const m = p.memory as ScaleMemory;
    const r = p.registration as NonNullable<ScalePoint["registration"]>;
    const growth = m.usedAfter - m.usedBefore;
    const used = Math.abs(growth) < noiseBytes ? `~ (${int(growth)} in all)` : bytes(m.usedPerClient);
    return [
      int(p.clients),
      seconds(r.ms),
      int(r.perSec),
      used,
      bytes(m.recordBytes),
      bytes(m.recordValueBytes),
      `${m.indexPerClient.toFixed(1)} (${m.indexEncoding})`,
      bytes(m.secretUseBytes),
      int(m.otherKeysDelta),
    ];
  });
  const tokenRows = done.flatMap((p) => {
    const { hot, rotate } = p.tokens as NonNullable<ScalePoint["tokens"]>;
    return [
      [int(p.clients), "one client", ...tokenCells(hot), loadavgCell(p)],
      [int(p.clients), "in turn", ...tokenCells(rotate), ""],
    ];
  });
  const listingRows = done.map((p) => {
    const l = p.listing as ListingResult;
    return [
      int(p.clients),
      int(l.totalSize),
      `${ms(l.first.p50Ms)} / ${ms(l.first.p99Ms)}`,
      `${ms(l.last.p50Ms)} / ${ms(l.last.p99Ms)}`,
      `${(l.last.p50Ms / l.first.p50Ms).toFixed(2)}×`,
      `${int(l.first.clients)} / ${int(l.last.clients)}`,
      int(l.pages),
      seconds(l.walkMs),
    ];
  });
  return [
    `Scale curve (${options.alg}; all clients in one organization, registered ${options.concurrency} at a time through the service's ClientService.create; bytes):`,
    table(
      ["clients", "register", "clients/s", "used_memory Δ/client", "record", "record value", "index/client", "secret-use hash", "other keys Δ"],
      memoryRows,
    ),
    "(record: MEMORY USAGE of a client's record key, median of up to 50; record value: its protobuf bytes; secret-use hash: added once a client has issued a token;",
    " other keys Δ: keys that appeared during the registration besides its records and index, i.e. other users of this Redis, which also skew used_memory Δ;",
    ` ~: used_memory grew by less than ${int(noiseBytes)} in all, within what it drifts by itself)`,
    "",
    "Token endpoint, one client, and several in turn (each connection sends every one of them in order):",
    table(["clients", "load", "distinct", "200/s", "p50 ms", "p99 ms", "Redis GET / all per token", "not 200", "loadavg"], tokenRows),
    "(Redis per token: the server's commands per response, as its own client counted; GET 1.00 = every token reads its record from Redis,",
    " the rest are the batched last_used_time writes, flushed once a second)",
    "",
    `Listing the organization's clients over REST (page_size ${options.pageSize}; ${options.listRepeats} fetches each of the first and the last page, in turn; p50 / p99 ms):`,
    table(["clients", "total_size", "first page", "last page", "last ÷ first", "clients on page", "pages walked", "walk to last"], listingRows),
    `(the walk fetches every page in order to reach the last page's token; it is timed, not measured repeatedly${options.listRepeats < 100 ? `; p99 of ${options.listRepeats} fetches is the slowest one` : ""})`,
    "",
    ...report.points.filter((p) => p.skipped !== undefined).map((p) => `- scale ${int(p.clients)} skipped: ${p.skipped}`),
  ];
}
