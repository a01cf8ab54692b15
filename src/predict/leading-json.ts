/**
 * How ml-commons turns a parameter string back into JSON before validating a predict request
 * against the model's input schema: Jackson's `ObjectMapper.readTree(text)` with default settings.
 * That reads the first JSON value and ignores whatever follows it (FAIL_ON_TRAILING_TOKENS is off),
 * so `42 apples` is the number 42, `true story` is true and `[1] and more` is [1], while `hello`,
 * `0123`, `1.` or `12,5` are not JSON and stay text. Blank text is Jackson's MissingNode, which is
 * written out as null. Reproduced here so a schema accepts and rejects what it does in ml-commons.
 */

/** The value the text starts with, or undefined when Jackson would not read it as JSON. */
export function readLeadingJson(text: string): { value: unknown } | undefined {
  let start = 0;
  while (start < text.length && isJsonWhitespace(text.charCodeAt(start))) start += 1;
  if (start === text.length) return { value: null };
  switch (text[start]) {
    case '{':
    case '[':
      return parseSlice(text, start, containerEnd(text, start));
    case '"':
      return parseSlice(text, start, stringEnd(text, start + 1));
    case 't':
      return literal(text, start, 'true', true);
    case 'f':
      return literal(text, start, 'false', false);
    case 'n':
      return literal(text, start, 'null', null);
    default:
      return number(text, start);
  }
}

function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

function parseSlice(text: string, start: number, end: number): { value: unknown } | undefined {
  if (end < 0) return undefined;
  try {
    return { value: JSON.parse(text.slice(start, end)) };
  } catch {
    return undefined;
  }
}

/** Index just after the bracket closing the one at `start`, or -1; strings are skipped whole. */
function containerEnd(text: string, start: number): number {
  let depth = 0;
  for (let index = start; index < text.length; index += 1) {
    const character = text[index];
    if (character === '"') {
      const after = stringEnd(text, index + 1);
      if (after < 0) return -1;
      index = after - 1;
    } else if (character === '{' || character === '[') {
      depth += 1;
    } else if (character === '}' || character === ']') {
      depth -= 1;
      if (depth === 0) return index + 1;
    }
  }
  return -1;
}

/** Index just after the quote closing a string whose content starts at `from`, or -1. */
function stringEnd(text: string, from: number): number {
  for (let index = from; index < text.length; index += 1) {
    const character = text[index];
    if (character === '\\') index += 1;
    else if (character === '"') return index + 1;
  }
  return -1;
}

// Jackson accepts a literal followed by anything but a Java identifier character (`truex` is an
// unrecognized token, `true,` and `true story` are true).
const identifierPart = /[\p{L}\p{N}\p{Pc}\p{Sc}\p{Mn}\p{Mc}]/u;

function literal(
  text: string,
  start: number,
  word: string,
  value: boolean | null,
): { value: unknown } | undefined {
  if (!text.startsWith(word, start)) return undefined;
  const next = text[start + word.length];
  if (next !== undefined && identifierPart.test(next)) return undefined;
  return { value };
}

const jsonNumber = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

// A number at the root must end the text or be followed by whitespace (Jackson's root-space check).
function number(text: string, start: number): { value: unknown } | undefined {
  jsonNumber.lastIndex = start;
  const match = jsonNumber.exec(text);
  if (match === null) return undefined;
  const end = start + match[0].length;
  if (end < text.length && !isJsonWhitespace(text.charCodeAt(end))) return undefined;
  return { value: Number(match[0]) };
}
