import { basicAuth } from "../scenarios/check-token.js";

// Listing an organization's clients through the real REST API, as an admin would. Reaching the
// last page needs every page before it (cursors are opaque); that walk is timed apart, then the
// first and the last page are fetched in turn, so drift on a shared machine hits both alike.

/** PageTiming is the latency of fetching one page, repeatedly, in ms. */
export interface PageTiming {
  p50Ms: number;
  p99Ms: number;
  /** clients is how many clients the page held. */
  clients: number;
}

/** ListingResult is what listing one organization cost. */
export interface ListingResult {
  pageSize: number;
  /** pages is how many pages the walk from the first to the last fetched. */
  pages: number;
  /** walkMs is how long that walk took, in all. */
  walkMs: number;
  /** totalSize is the `total_size` the first page answered. */
  totalSize: number;
  repeats: number;
  first: PageTiming;
  last: PageTiming;
}

interface Page {
  clients?: unknown[];
  next_page_token?: string;
  total_size?: number | string;
}

/** adminToken gets an access token for the bench's admin client. */
export async function adminToken(url: string, adminId: string, adminSecret: string): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuth(adminId, adminSecret) },
    body: "grant_type=client_credentials",
  });
  const { access_token: token } = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !token) throw new Error(`admin token request answered ${res.status}`);
  return token;
}

/** fetchPage fetches one page and times it, reading the whole body, as a caller must. */
async function fetchPage(listUrl: string, token: string, pageToken: string): Promise<{ ms: number; page: Page }> {
  const started = performance.now();
  const res = await fetch(pageToken === "" ? listUrl : `${listUrl}&page_token=${encodeURIComponent(pageToken)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`list answered ${res.status}: ${text.slice(0, 300)}`);
  return { ms, page: JSON.parse(text) as Page };
}

/** percentile reads the `p`th percentile (0..100) of `values`. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

/** measureListing walks `organizationId`'s pages to the last, then times the first and the last page `repeats` times each. */
export async function measureListing(url: string, token: string, organizationId: string, pageSize: number, repeats: number): Promise<ListingResult> {
  const listUrl = `${url}/api/v1/organizations/${organizationId}/clients?page_size=${pageSize}`;
  const walkStarted = performance.now();
  const first = await fetchPage(listUrl, token, "");
  let lastToken = "";
  let page = first.page;
  let pages = 1;
  while (page.next_page_token) {
    lastToken = page.next_page_token;
    page = (await fetchPage(listUrl, token, lastToken)).page;
    pages++;
  }
  const walkMs = performance.now() - walkStarted;
  const firstMs: number[] = [];
  const lastMs: number[] = [];
  let sizes = { first: 0, last: 0 };
  for (let i = 0; i < repeats; i++) {
    const a = await fetchPage(listUrl, token, "");
    const b = await fetchPage(listUrl, token, lastToken);
    firstMs.push(a.ms);
    lastMs.push(b.ms);
    sizes = { first: a.page.clients?.length ?? 0, last: b.page.clients?.length ?? 0 };
  }
  return {
    pageSize,
    pages,
    walkMs,
    totalSize: Number(first.page.total_size ?? 0),
    repeats,
    first: { p50Ms: percentile(firstMs, 50), p99Ms: percentile(firstMs, 99), clients: sizes.first },
    last: { p50Ms: percentile(lastMs, 50), p99Ms: percentile(lastMs, 99), clients: sizes.last },
  };
}
