/**
 * A port of Apache commons-text `StringSubstitutor` as ml-commons configures it:
 * `new StringSubstitutor(map, "${parameters.", "}")` (or `"${credential."`), reference §7.3.
 * Everything not configured keeps the commons-text default: escape character `$`, default
 * delimiter `:-`, values substituted recursively, substitution inside variable names off,
 * unknown variables left as they are.
 *
 * Java rewrites one mutable buffer in place and recurses once per nested value. This port
 * walks the same positions without mutating text and keeps its own stack of frames, so that a
 * deep chain of parameters cannot overflow the JS stack, and hostile text stays linear:
 * - the next `}` is looked up once per frame and reused while it is still ahead (Java rescans
 *   to the end for every `$${` escape, which is quadratic);
 * - a cycle is an error, as in Java; and the total text scanned is capped, because values that
 *   reference each other twice per level ("billion laughs") grow exponentially without one.
 *
 * Quirks kept on purpose because templates written for ml-commons rely on the same output:
 * - `$${parameters.x}` gives the literal `${parameters.x}` only when the `}` exists; scanning
 *   then resumes just after `${`, so `$${parameters.a${parameters.b}}` still expands `b`.
 * - The escape check looks at the character written just before the variable, even when that
 *   character came from a previously substituted value (`a = "x$"` makes `${parameters.a}` escape
 *   the variable after it).
 * - A variable ends at the first `}`: `${parameters.x:-${parameters.y}}` with `x` absent gives the
 *   literal `${parameters.y}`, not the value of `y`.
 * - The cycle check runs before the lookup, so `a = "${parameters.a:-z}"` is a cycle.
 */
import { badRequest } from '../domain/errors.ts';

export type VariablePrefix = '${parameters.' | '${credential.';

const suffix = '}';
const escapeCharacter = '$';
const defaultDelimiter = ':-';

/**
 * Most characters one substitution may scan: the template plus every value it expands, counted
 * each time it is expanded. Output can never be longer. Real request bodies are far smaller;
 * the cap only stops self-multiplying parameters from taking the process down.
 */
export const maxSubstitutionWork = 64 * 1024 * 1024;

interface Frame {
  readonly text: string;
  /** The variable whose value this frame expands; undefined for the template itself. */
  readonly variable: string | undefined;
  /** Next index of `text` to scan. */
  position: number;
  /** Output length when the frame started: Java's `offset`, the escape check never looks before. */
  readonly outputStart: number;
  /** Index of the first `}` at or after the last lookup; -1 none; -2 not looked up yet. */
  nextSuffix: number;
}

/**
 * Frames expand depth-first and a value's text lands exactly where its variable stood, so all
 * frames append to one output: no per-level join, and the last character written is always the
 * current frame's last character.
 */
class Output {
  readonly pieces: string[] = [];
  length = 0;
  lastCharacter = '';

  write(piece: string): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.length += piece.length;
    this.lastCharacter = piece.charAt(piece.length - 1);
  }

  dropLastCharacter(): void {
    const last = this.pieces.pop() ?? '';
    if (last.length > 1) this.pieces.push(last.slice(0, -1));
    this.length -= 1;
    const previous = this.pieces.at(-1) ?? '';
    this.lastCharacter = previous.charAt(previous.length - 1);
  }
}

interface Resolved {
  readonly name: string;
  readonly value: string;
}

/**
 * Replaces `<prefix>NAME}` with `variables[NAME]` (own keys only), `<prefix>NAME:-default}` with
 * the default when NAME is absent, and substitutes again inside every inserted value. Throws a
 * `bad_request` ServiceError on a reference cycle or when expansion exceeds `maxSubstitutionWork`.
 */
export function substitute(
  template: string,
  variables: Record<string, string>,
  prefix: VariablePrefix,
): string {
  if (!template.includes(prefix)) return template;
  let work = template.length;
  const output = new Output();
  const active = new Set<string>();
  const chain: string[] = [];
  const frames: Frame[] = [createFrame(template, undefined, output)];
  for (;;) {
    const frame = frames.at(-1);
    if (frame === undefined) return output.pieces.join('');
    const resolved = scan(frame, variables, prefix, output, active, chain);
    if (resolved === undefined) {
      frames.pop();
      if (frame.variable !== undefined) {
        active.delete(frame.variable);
        chain.pop();
      }
      continue;
    }
    work += resolved.value.length;
    if (work > maxSubstitutionWork) {
      throw badRequest(
        `Parameter substitution exceeds ${maxSubstitutionWork} characters; check for parameters that reference each other`,
      );
    }
    active.add(resolved.name);
    chain.push(resolved.name);
    frames.push(createFrame(resolved.value, resolved.name, output));
  }
}

/**
 * Names of the `<prefix>NAME}` placeholders left in `text`, de-duplicated, in order of first
 * appearance. Same matches as ml-commons' `\$\{parameters\.([^}]+)}` (a name is everything up
 * to the next `}` and is never empty), found in linear time.
 */
export function findPlaceholderNames(text: string, prefix: VariablePrefix): string[] {
  const names = new Set<string>();
  let from = 0;
  let nextSuffix = -2;
  for (;;) {
    const start = text.indexOf(prefix, from);
    if (start === -1) break;
    const nameStart = start + prefix.length;
    if (nextSuffix !== -1 && nextSuffix < nameStart) nextSuffix = text.indexOf(suffix, nameStart);
    if (nextSuffix === -1) break;
    if (nextSuffix === nameStart) {
      from = start + 1;
      continue;
    }
    names.add(text.slice(nameStart, nextSuffix));
    from = nextSuffix + 1;
  }
  return [...names];
}

function createFrame(text: string, variable: string | undefined, output: Output): Frame {
  return { text, variable, position: 0, outputStart: output.length, nextSuffix: -2 };
}

/**
 * Copies text to the frame's output until it meets a variable that resolves, and returns that
 * variable (position already past it), or returns undefined once the frame's text is done.
 */
function scan(
  frame: Frame,
  variables: Record<string, string>,
  prefix: VariablePrefix,
  output: Output,
  active: ReadonlySet<string>,
  chain: readonly string[],
): Resolved | undefined {
  const { text } = frame;
  while (frame.position < text.length) {
    const start = text.indexOf(prefix, frame.position);
    if (start === -1) break;
    output.write(text.slice(frame.position, start));
    frame.position = start;
    const end = findSuffix(frame, start + prefix.length);
    if (end === -1) break;
    if (output.length > frame.outputStart && output.lastCharacter === escapeCharacter) {
      // Java deletes the escape and resumes right after `${`, inside the would-be variable.
      output.dropLastCharacter();
      output.write(text.slice(start, start + 2));
      frame.position = start + 2;
      continue;
    }
    frame.position = end + suffix.length;
    const { name, fallback } = splitDefault(text.slice(start + prefix.length, end), prefix);
    if (active.has(name)) throw cycleError(prefix, chain, name);
    const value = Object.hasOwn(variables, name) ? variables[name] : fallback;
    if (value !== undefined) return { name, value };
    output.write(text.slice(start, frame.position));
  }
  output.write(text.slice(frame.position));
  frame.position = text.length;
  return undefined;
}

/**
 * commons-text looks for `:-` only before any nested prefix (substitution in variable names is
 * off), so `x:-a:-b` has default `a:-b` and `${parameters.y:-1` inside a name is not split.
 */
function splitDefault(
  expression: string,
  prefix: VariablePrefix,
): { name: string; fallback: string | undefined } {
  const delimiterAt = expression.indexOf(defaultDelimiter);
  if (delimiterAt === -1) return { name: expression, fallback: undefined };
  const nestedAt = expression.indexOf(prefix);
  if (nestedAt !== -1 && nestedAt < delimiterAt) return { name: expression, fallback: undefined };
  return {
    name: expression.slice(0, delimiterAt),
    fallback: expression.slice(delimiterAt + defaultDelimiter.length),
  };
}

/** Lookups only move forward within a frame, so a `}` found earlier stays valid while ahead. */
function findSuffix(frame: Frame, from: number): number {
  if (frame.nextSuffix === -1 || frame.nextSuffix >= from) return frame.nextSuffix;
  frame.nextSuffix = frame.text.indexOf(suffix, from);
  return frame.nextSuffix;
}

/** Names only: values may be secrets (credentials) and never belong in an error message. */
function cycleError(prefix: VariablePrefix, chain: readonly string[], repeated: string) {
  const first = chain[0] ?? repeated;
  return badRequest(
    `Infinite loop in property interpolation of ${prefix}${first}${suffix}: ${[...chain, repeated].join('->')}`,
  );
}
