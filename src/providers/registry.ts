/**
 * The one place provider names appear: every adapter, in the order used to infer an interface
 * from a connector when the request names none.
 */
import { badRequest } from '../domain/errors.ts';
import type { ConnectorFacts, ProviderAdapter } from '../domain/provider.ts';
import { adapter as anthropic } from './anthropic/index.ts';
import { adapter as bedrockConverse } from './bedrock-converse/index.ts';
import { adapter as bedrockInvoke } from './bedrock-invoke/index.ts';
import { adapter as cohere } from './cohere/index.ts';
import { adapter as gemini } from './gemini/index.ts';
import { adapter as ollama } from './ollama/index.ts';
import { adapter as openai } from './openai/index.ts';

const adapters: readonly ProviderAdapter[] = [
  openai,
  anthropic,
  bedrockConverse,
  bedrockInvoke,
  cohere,
  gemini,
  ollama,
];

export const supportedInterfaces: readonly string[] = adapters.flatMap(
  (adapter) => adapter.interfaces,
);

const byInterface = new Map<string, ProviderAdapter>(
  adapters.flatMap((adapter) => adapter.interfaces.map((id) => [id, adapter] as const)),
);

export interface ResolvedInterface {
  adapter: ProviderAdapter;
  llmInterface: string;
}

/**
 * `_llm_interface` wins when given; otherwise it is inferred from the connector. The value is
 * normalised as ml-commons does (trim, lower case, Java unescape), since request parameters
 * arrive JSON-escaped (`openai\/v1\/chat\/completions`).
 */
export function resolveInterface(
  explicit: string | undefined,
  connector: ConnectorFacts,
): ResolvedInterface {
  if (explicit !== undefined && explicit.trim() !== '') {
    const llmInterface = normalise(explicit);
    const adapter = byInterface.get(llmInterface);
    if (adapter === undefined) {
      throw badRequest(
        `Unsupported LLM interface: ${llmInterface}. Supported: ${supportedInterfaces.join(', ')}`,
      );
    }
    return { adapter, llmInterface };
  }
  const adapter = adapters.find((candidate) => candidate.matches(connector));
  const llmInterface = adapter?.interfaces[0];
  if (adapter === undefined || llmInterface === undefined) {
    throw badRequest(
      `Cannot infer the LLM interface from the connector URL; set parameters._llm_interface to one of: ${supportedInterfaces.join(', ')}`,
    );
  }
  return { adapter, llmInterface };
}

function normalise(value: string): string {
  return value
    .trim()
    .toLowerCase()
    .replace(/\\(u[0-9a-f]{4}|.)/g, (_match, escaped: string) =>
      escaped.length === 5 ? String.fromCharCode(Number.parseInt(escaped.slice(1), 16)) : escaped,
    );
}
