// Checks that a Markdown code block is an excerpt of a source file: the block's lines, split at
// `// …` elisions, must each appear as consecutive lines of the file, in order. Indentation is
// ignored (a README shows code unindented); every other character counts.

/** CodeBlock is a fenced block of a Markdown text. */
export interface CodeBlock {
  lang: string;
  code: string;
}

/** codeBlocks returns the fenced code blocks of `markdown`, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] as string, code: m[2] as string }));
}

/** section returns the text of `markdown` under the `## title` heading, up to the next one. */
export function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) return "";
  const end = markdown.indexOf("\n## ", start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

const elision = /^\/\/ …$/;

/** isExcerptOf tells whether every elision-separated part of `block` is in `source`, in order. */
export function isExcerptOf(block: string, source: string): boolean {
  const parts: string[][] = [[]];
  for (const line of lines(block)) {
    if (elision.test(line)) parts.push([]);
    else parts[parts.length - 1]!.push(line);
  }
  const have = lines(source);
  let from = 0;
  for (const part of parts.filter((p) => p.length > 0)) {
    let at = -1;
    for (let i = from; i + part.length <= have.length && at < 0; i++) {
      if (part.every((line, j) => have[i + j] === line)) at = i;
    }
    if (at < 0) return false;
    from = at + part.length;
  }
  return parts.some((p) => p.length > 0);
}
