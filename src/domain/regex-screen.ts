/**
 * Refuses regular expressions that can take exponential time, before they become settings that
 * every connector call matches URLs and addresses against (a URL may carry request parameters).
 * ml-commons screens its connector regex settings the same way: a length cap, no backreferences,
 * no nested quantifiers such as `(a+)+` or `(.*x)*`. The check is a conservative reading of the
 * pattern's text, not a proof: it refuses some harmless patterns and cannot catch every slow one
 * (alternations of overlapping branches under a quantifier, like `(a|a)*`, pass).
 */

/** Longer patterns are refused outright. */
export const maxPatternLength = 256;

/** Why `pattern` is refused, or undefined when it passes the screen. */
export function slowPatternReason(pattern: string): string | undefined {
  if (pattern.length > maxPatternLength) return `longer than ${maxPatternLength} characters`;
  // Each open group: whether a quantifier applies inside it.
  const groups: boolean[] = [];
  let inClass = false;
  for (let index = 0; index < pattern.length; index += 1) {
    const character = pattern[index];
    if (character === '\\') {
      const next = pattern[index + 1] ?? '';
      if (!inClass && (/[1-9]/.test(next) || next === 'k')) return 'it uses a backreference';
      index += 1;
      continue;
    }
    if (inClass) {
      if (character === ']') inClass = false;
      continue;
    }
    if (character === '[') {
      inClass = true;
    } else if (character === '(') {
      groups.push(false);
    } else if (character === ')') {
      const quantifiedInside = groups.pop() ?? false;
      const repeated = isRepeatingQuantifierAt(pattern, index + 1);
      if (quantifiedInside && repeated) return 'it nests quantifiers';
      // The group as a whole counts as quantified content of the group around it.
      if (groups.length > 0 && (quantifiedInside || repeated)) groups[groups.length - 1] = true;
    } else if (isRepeatingQuantifierAt(pattern, index) && groups.length > 0) {
      groups[groups.length - 1] = true;
    }
  }
  return undefined;
}

/**
 * `*`, `+` or `{n,}` at `index`: a quantifier without an upper bound. Bounded ones (`{1,3}`, as in
 * `(\d{1,3}\.){3}`) cannot blow up by themselves, and refusing them refused common patterns.
 */
function isRepeatingQuantifierAt(pattern: string, index: number): boolean {
  const character = pattern[index];
  if (character === '*' || character === '+') return true;
  return character === '{' && /^\{\d+,\}/.test(pattern.slice(index));
}
