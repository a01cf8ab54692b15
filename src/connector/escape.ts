/**
 * The two JSON string escapers ml-commons uses when it builds a request body. They differ on
 * purpose and both are reproduced exactly, because connector templates written for ml-commons
 * depend on the precise output:
 *
 * - `escapeJson` is Apache commons-text `StringEscapeUtils.escapeJson`, applied to plain-string
 *   request parameters (reference §7.2). Everything outside printable ASCII becomes `\u`
 *   followed by four hex digits.
 * - `escapeGsonString` is what `gson.toJson(string)` writes between the quotes (ml-commons
 *   `StringUtils.processTextDoc`), used for the synthetic `${parameters.x.toString()}` values
 *   (reference §7.3). Gson keeps non-ASCII text raw but escapes HTML-significant characters.
 */

/** commons-text `JAVA_CTRL_CHARS_ESCAPE`: the only control characters with a short escape. */
const javaControlEscapes: ReadonlyMap<number, string> = new Map([
  [0x08, '\\b'],
  [0x09, '\\t'],
  [0x0a, '\\n'],
  [0x0c, '\\f'],
  [0x0d, '\\r'],
]);

const commonsTextLookups: ReadonlyMap<number, string> = new Map([
  [0x22, '\\"'],
  [0x5c, '\\\\'],
  [0x2f, '\\/'],
]);

/**
 * Apache commons-text `StringEscapeUtils.escapeJson`, without surrounding quotes.
 *
 * `"` `\` `/` get a backslash; `\b \f \n \r \t` their short escapes; every other UTF-16 code
 * unit below 0x20 or above 0x7F becomes `\u` followed by four uppercase hex digits. The range is
 * inclusive (`JavaUnicodeEscaper.outsideOf(32, 0x7f)`), so DEL (0x7F) stays raw, as it does in
 * Java. An astral character is escaped as its two surrogates and a lone surrogate as itself,
 * which is what commons-text writes too.
 */
export function escapeJson(value: string): string {
  let result = '';
  let copiedUpTo = 0;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    let replacement: string | undefined;
    if (code >= 0x20 && code <= 0x7f) {
      replacement = commonsTextLookups.get(code);
      if (replacement === undefined) continue;
    } else {
      replacement = javaControlEscapes.get(code) ?? unicodeEscape(code, 'upper');
    }
    result += value.slice(copiedUpTo, index) + replacement;
    copiedUpTo = index + 1;
  }
  return copiedUpTo === 0 ? value : result + value.slice(copiedUpTo);
}

/** Gson `JsonWriter` replacements for ASCII (`htmlSafe` is on in `new Gson()`). */
const gsonAsciiReplacements: readonly (string | undefined)[] = buildGsonReplacements();

function buildGsonReplacements(): (string | undefined)[] {
  const table: (string | undefined)[] = new Array(128).fill(undefined);
  for (let code = 0; code < 0x20; code++) table[code] = unicodeEscape(code, 'lower');
  table[0x22] = '\\"';
  table[0x5c] = '\\\\';
  table[0x09] = '\\t';
  table[0x08] = '\\b';
  table[0x0a] = '\\n';
  table[0x0d] = '\\r';
  table[0x0c] = '\\f';
  table[0x3c] = '\\u003c';
  table[0x3e] = '\\u003e';
  table[0x26] = '\\u0026';
  table[0x3d] = '\\u003d';
  table[0x27] = '\\u0027';
  return table;
}

/**
 * `gson.toJson(value)` for a string, minus the surrounding quotes (ml-commons `processTextDoc`).
 * Gson escapes `"`, `\`, control characters (lowercase hex), `< > & = '` and U+2028/U+2029;
 * all other characters, including `/` and non-ASCII, are kept as they are.
 */
export function escapeGsonString(value: string): string {
  let result = '';
  let copiedUpTo = 0;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    let replacement: string | undefined;
    if (code < 128) {
      replacement = gsonAsciiReplacements[code];
      if (replacement === undefined) continue;
    } else if (code === 0x2028 || code === 0x2029) {
      replacement = unicodeEscape(code, 'lower');
    } else {
      continue;
    }
    result += value.slice(copiedUpTo, index) + replacement;
    copiedUpTo = index + 1;
  }
  return copiedUpTo === 0 ? value : result + value.slice(copiedUpTo);
}

function unicodeEscape(code: number, hexCase: 'upper' | 'lower'): string {
  const hex = code.toString(16).padStart(4, '0');
  return `\\u${hexCase === 'upper' ? hex.toUpperCase() : hex}`;
}
