// Reads the module specifiers a built .js or .d.ts file imports, for the packaging checks.

const patterns = [
  // import … from "x", export … from "x" (over several lines too)
  /\b(?:import|export)\s[^;"']*?\bfrom\s*["']([^"']+)["']/g,
  // import "x" (side effects only)
  /\bimport\s*["']([^"']+)["']/g,
  // import("x"): dynamic imports and type queries in declarations
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  // require("x"), should a CommonJS build ever appear
  /\brequire\(\s*["']([^"']+)["']\s*\)/g,
];

/** importSpecifiers returns every module specifier `source` imports, deduplicated. */
export function importSpecifiers(source: string): string[] {
  const found = new Set<string>();
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.add(m[1] as string);
  return [...found];
}
