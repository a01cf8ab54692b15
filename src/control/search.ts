/**
 * The subset of the OpenSearch query DSL that ml-commons `_search` APIs are used with, evaluated
 * in memory over stored documents (the control plane holds hundreds of documents, not millions).
 * Unsupported query types are refused with a 400 rather than silently matching everything.
 */
import { badRequest } from '../domain/errors.ts';

export interface SearchRequest {
  query?: unknown;
  size?: unknown;
  from?: unknown;
  sort?: unknown;
  _source?: unknown;
}

export interface SearchableDocument {
  id: string;
  version: number;
  source: Record<string, unknown>;
}

export interface SearchResponse {
  took: number;
  timed_out: false;
  _shards: { total: 1; successful: 1; skipped: 0; failed: 0 };
  hits: {
    total: { value: number; relation: 'eq' };
    max_score: number | null;
    hits: Array<{
      _index: string;
      _id: string;
      _version: number;
      _seq_no: number;
      _primary_term: 1;
      _score: number;
      _source: Record<string, unknown>;
    }>;
  };
}

type Predicate = (source: Record<string, unknown>, id: string) => boolean;

export function search(
  index: string,
  documents: SearchableDocument[],
  request: SearchRequest,
  startedAt = Date.now(),
): SearchResponse {
  const predicate = compileQuery(request.query ?? { match_all: {} });
  const size = nonNegativeInteger(request.size, 10, 'size');
  const from = nonNegativeInteger(request.from, 0, 'from');
  const matched = documents.filter((document) => predicate(document.source, document.id));
  const sorted = sortDocuments(matched, request.sort);
  const page = sorted.slice(from, from + size);
  return {
    took: Date.now() - startedAt,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: {
      total: { value: matched.length, relation: 'eq' },
      max_score: matched.length > 0 ? 1 : null,
      hits: page.map((document) => ({
        _index: index,
        _id: document.id,
        _version: document.version,
        _seq_no: document.version - 1,
        _primary_term: 1,
        _score: 1,
        _source: filterSource(document.source, request._source),
      })),
    },
  };
}

function compileQuery(query: unknown): Predicate {
  const [type, body] = singleEntry(query, 'query');
  switch (type) {
    case 'match_all':
      return () => true;
    case 'match_none':
      return () => false;
    case 'ids': {
      const values = stringList(field(body, 'values', type), 'ids.values');
      return (_source, id) => values.includes(id);
    }
    case 'term':
    case 'match_phrase':
    case 'match':
    case 'prefix':
    case 'wildcard': {
      const [path, condition] = singleEntry(body, type);
      const expected = isRecord(condition) ? (condition['query'] ?? condition['value']) : condition;
      if (
        typeof expected !== 'string' &&
        typeof expected !== 'number' &&
        typeof expected !== 'boolean'
      ) {
        throw badRequest(`[${type}] query for [${path}] needs a string, number or boolean value`);
      }
      const matcher = valueMatcher(type, String(expected));
      return (source) => valuesAt(source, path).some((value) => matcher(String(value)));
    }
    case 'terms': {
      const [path, values] = singleEntry(body, type);
      const expected = stringList(values, `terms.${path}`);
      return (source) => valuesAt(source, path).some((value) => expected.includes(String(value)));
    }
    case 'exists': {
      const path = field(body, 'field', type);
      if (typeof path !== 'string') throw badRequest('[exists] query needs a field name');
      return (source) => valuesAt(source, path).length > 0;
    }
    case 'bool':
      return compileBool(body);
    default:
      throw badRequest(`unknown query [${type}]`, { type: 'parsing_exception' });
  }
}

function compileBool(body: unknown): Predicate {
  if (!isRecord(body)) throw badRequest('[bool] query must be an object');
  const clauses = (name: string): Predicate[] => {
    const value = body[name];
    if (value === undefined) return [];
    return (Array.isArray(value) ? value : [value]).map(compileQuery);
  };
  const must = [...clauses('must'), ...clauses('filter')];
  const mustNot = clauses('must_not');
  const should = clauses('should');
  const minimumShouldMatch =
    body['minimum_should_match'] === undefined
      ? must.length > 0
        ? 0
        : Math.min(1, should.length)
      : nonNegativeInteger(body['minimum_should_match'], 0, 'minimum_should_match');
  return (source, id) =>
    must.every((clause) => clause(source, id)) &&
    !mustNot.some((clause) => clause(source, id)) &&
    should.filter((clause) => clause(source, id)).length >= minimumShouldMatch;
}

function valueMatcher(type: string, expected: string): (actual: string) => boolean {
  switch (type) {
    case 'term':
      return (actual) => actual === expected;
    case 'prefix':
      return (actual) => actual.startsWith(expected);
    case 'wildcard': {
      const pattern = new RegExp(
        `^${expected
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
        's',
      );
      return (actual) => pattern.test(actual);
    }
    case 'match_phrase':
      return (actual) => actual.toLowerCase().includes(expected.toLowerCase());
    default: {
      // `match` on analysed text: any query token equal to any field token, case-insensitive.
      const wanted = tokens(expected);
      return (actual) => {
        const present = new Set(tokens(actual));
        return wanted.some((token) => present.has(token));
      };
    }
  }
}

function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** Values at a dotted path; arrays are flattened as OpenSearch does for multi-valued fields. */
function valuesAt(source: Record<string, unknown>, path: string): unknown[] {
  const segments = path.replace(/\.keyword$/, '').split('.');
  let current: unknown[] = [source];
  for (const segment of segments) {
    current = current.flatMap((value) => {
      if (!isRecord(value)) return [];
      const next = value[segment];
      return next === undefined || next === null ? [] : Array.isArray(next) ? next : [next];
    });
  }
  return current;
}

function sortDocuments(documents: SearchableDocument[], sort: unknown): SearchableDocument[] {
  if (sort === undefined) return documents;
  const rules = (Array.isArray(sort) ? sort : [sort]).map((rule) => {
    if (typeof rule === 'string') return { path: rule, descending: false };
    const [path, order] = singleEntry(rule, 'sort');
    const direction = isRecord(order) ? order['order'] : order;
    if (direction !== 'asc' && direction !== 'desc') {
      throw badRequest(`sort order for [${path}] must be "asc" or "desc"`);
    }
    return { path, descending: direction === 'desc' };
  });
  return [...documents].sort((left, right) => {
    for (const rule of rules) {
      const a = valuesAt(left.source, rule.path)[0];
      const b = valuesAt(right.source, rule.path)[0];
      const order = compareValues(a, b);
      if (order !== 0) return rule.descending ? -order : order;
    }
    return 0;
  });
}

function compareValues(left: unknown, right: unknown): number {
  if (left === right) return 0;
  if (left === undefined) return 1;
  if (right === undefined) return -1;
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  return String(left).localeCompare(String(right));
}

function filterSource(
  source: Record<string, unknown>,
  selection: unknown,
): Record<string, unknown> {
  if (selection === undefined || selection === true) return source;
  if (selection === false) return {};
  const includes = isRecord(selection) ? toList(selection['includes']) : toList(selection);
  const excludes = isRecord(selection) ? toList(selection['excludes']) : [];
  return Object.fromEntries(
    Object.entries(source).filter(
      ([key]) =>
        (includes.length === 0 || includes.some((pattern) => fieldMatches(key, pattern))) &&
        !excludes.some((pattern) => fieldMatches(key, pattern)),
    ),
  );
}

function fieldMatches(key: string, pattern: string): boolean {
  const top = pattern.split('.')[0] ?? pattern;
  if (top.endsWith('*')) return key.startsWith(top.slice(0, -1));
  return key === top;
}

function toList(value: unknown): string[] {
  if (value === undefined) return [];
  return stringList(value, '_source');
}

function singleEntry(value: unknown, context: string): [string, unknown] {
  if (!isRecord(value)) throw badRequest(`[${context}] must be an object`);
  const entries = Object.entries(value);
  const first = entries[0];
  if (entries.length !== 1 || first === undefined) {
    throw badRequest(`[${context}] must hold exactly one entry`, { type: 'parsing_exception' });
  }
  return first;
}

function field(body: unknown, name: string, context: string): unknown {
  if (!isRecord(body)) throw badRequest(`[${context}] query must be an object`);
  return body[name];
}

function stringList(value: unknown, context: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((item) => ['string', 'number', 'boolean'].includes(typeof item))) {
    throw badRequest(`[${context}] must be a list of values`);
  }
  return list.map(String);
}

function nonNegativeInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 0) {
    throw badRequest(`[${name}] must be a non-negative integer`);
  }
  return number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
