// Which scopes a method requires: its `(m2mauth.v1.required_scopes)` option, or an override.
import { getOption, hasOption, type DescMethod } from "@bufbuild/protobuf";
import { required_scopes } from "../../gen/m2mauth/v1/options_pb.js";
import { scopeTokenPattern } from "../rules.js";

/** RequiredScopes tells which scopes a call of a method needs. */
export interface RequiredScopes {
  /** forMethod returns the scopes every one of which a token must grant to call `method`. */
  forMethod(method: DescMethod): readonly string[];
}

// "/package.Service/Method", the procedure path of Connect and gRPC.
const procedurePath = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

/** procedureOf returns a method's procedure path, e.g. "/m2mauth.v1.TokenService/IssueToken". */
export function procedureOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** checkProcedure throws a TypeError naming `option` unless `name` is a "/package.Service/Method" path. */
export function checkProcedure(option: string, name: unknown): string {
  if (typeof name !== "string" || !procedurePath.test(name)) {
    throw new TypeError(`${option}: ${JSON.stringify(name)} is not a procedure path like "/pkg.Service/Method"`);
  }
  return name;
}

function checkOverrides(overrides: Record<string, readonly string[]>): Map<string, readonly string[]> {
  const checked = new Map<string, readonly string[]>();
  for (const [procedure, scopes] of Object.entries(overrides)) {
    checkProcedure("requiredScopes", procedure);
    // Options come from JavaScript callers too: the declared type is not trusted.
    const list: unknown = scopes;
    if (!Array.isArray(list) || !list.every((s): s is string => typeof s === "string" && scopeTokenPattern.test(s))) {
      throw new TypeError(`requiredScopes["${procedure}"]: must be an array of RFC 6749 §3.3 scope tokens`);
    }
    checked.set(procedure, Object.freeze([...new Set(list)]));
  }
  return checked;
}

/**
 * createRequiredScopes reads each method's `required_scopes` option once (results are cached per
 * descriptor); an entry of `overrides`, keyed by procedure path, replaces the option entirely.
 */
export function createRequiredScopes(overrides: Record<string, readonly string[]> = {}): RequiredScopes {
  const byProcedure = checkOverrides(overrides);
  const cache = new WeakMap<DescMethod, readonly string[]>();
  return {
    forMethod(method) {
      let scopes = cache.get(method);
      if (scopes === undefined) {
        const fromOption = hasOption(method, required_scopes) ? getOption(method, required_scopes) : [];
        scopes = byProcedure.get(procedureOf(method)) ?? Object.freeze([...new Set(fromOption)]);
        cache.set(method, scopes);
      }
      return scopes;
    },
  };
}

/** grantsAll reports whether `granted` holds every scope of `required`, without allocating. */
export function grantsAll(required: readonly string[], granted: readonly string[]): boolean {
  for (const scope of required) if (!granted.includes(scope)) return false;
  return true;
}

/** missingScopes returns the scopes of `required` that `granted` lacks, in `required` order. */
export function missingScopes(required: readonly string[], granted: readonly string[]): string[] {
  if (required.length === 0) return [];
  const have = new Set(granted);
  return required.filter((s) => !have.has(s));
}
