/**
 * What a provider (an `_llm_interface` implementation) must supply. The core never names a
 * provider: it asks the registry for the adapter of an interface id and talks to this contract.
 */
import type { StreamPart } from './stream-part.ts';

/** How the upstream response body is framed; the core picks the matching wire decoder. */
export type Framing = 'sse' | 'aws-event-stream' | 'ndjson';

/** One frame, as delivered by the wire decoder of the adapter's framing. */
export type Frame =
  | { framing: 'sse'; event: string | undefined; data: string; id: string | undefined }
  | {
      framing: 'aws-event-stream';
      /** Header name → value; only string-typed headers are used by Bedrock. */
      headers: Record<string, string>;
      payload: Uint8Array;
    }
  | { framing: 'ndjson'; line: string };

/** The HTTP call to make upstream, already templated from the connector. */
export interface UpstreamCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** JSON text (or NDJSON for some non-streaming endpoints). */
  body: string;
}

/** Turns the frames of one response into stream parts. One instance per stream (it holds state). */
export interface FrameDecoder {
  /** Called for every frame; emits zero or more parts. Throws ServiceError on protocol errors. */
  decode(frame: Frame, emit: (part: StreamPart) => void): void;
  /**
   * Called when the body ended. Emits the closing `finish` if the upstream's own end marker was
   * seen (or is implied), otherwise throws: a stream that stops early is an error, never a
   * normal end.
   */
  end(emit: (part: StreamPart) => void): void;
}

export interface ConnectorFacts {
  protocol: string;
  /** The predict action URL after templating. */
  url: string;
}

export interface ProviderAdapter {
  /** `_llm_interface` ids this adapter serves (lower case). */
  readonly interfaces: readonly string[];
  readonly framing: Framing;
  /**
   * Whether this adapter should serve a connector whose `_llm_interface` was not given.
   * Checked in registry order; the first match wins.
   */
  matches(connector: ConnectorFacts): boolean;
  /**
   * Rewrites the templated call for streaming (add `stream: true`, switch to the streaming
   * endpoint, set Accept). Throws ServiceError(bad_request) for requests that cannot stream
   * (e.g. OpenAI `n > 1`).
   */
  prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall;
  createDecoder(llmInterface: string): FrameDecoder;
}
