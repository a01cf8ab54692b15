/**
 * The stream contract between providers and every edge (SSE to the client, Arrow Flight between
 * nodes). Providers decode their wire format into these parts; edges encode them once.
 */

/** Finish reasons normalised across providers; the provider's own word is kept in `raw`. */
export type UnifiedFinishReason =
  | 'stop'
  | 'length'
  | 'tool_calls'
  | 'content_filter'
  | 'error'
  | 'other';

// A Record, so that a reason added to the type but not here fails to compile.
const unifiedFinishReasonSet: Record<UnifiedFinishReason, true> = {
  stop: true,
  length: true,
  tool_calls: true,
  content_filter: true,
  error: true,
  other: true,
};

export const unifiedFinishReasons = Object.keys(unifiedFinishReasonSet) as UnifiedFinishReason[];

/** For readers of parts another process wrote (a newer sender may know more reasons). */
export const isUnifiedFinishReason = (value: string): value is UnifiedFinishReason =>
  Object.hasOwn(unifiedFinishReasonSet, value);

export interface FinishReason {
  unified: UnifiedFinishReason;
  /** The provider's value, e.g. `end_turn`, `MAX_TOKENS`; undefined when it sent none. */
  raw: string | undefined;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

export type StreamPart =
  /** A fragment of the answer text. */
  | { type: 'text-delta'; text: string }
  /** Model "thinking" text. Never mixed into content; edges may drop it. */
  | { type: 'reasoning-delta'; text: string }
  /**
   * A fragment of a tool call. `index` identifies the call within the message (parallel calls
   * have distinct indexes); `id` and `name` arrive on the first fragment of a call.
   */
  | {
      type: 'tool-call-delta';
      index: number;
      id?: string;
      name?: string;
      argumentsDelta: string;
    }
  /**
   * The upstream finished normally. Exactly one per successful stream, always last.
   * `usage` is absent only when the provider reported none.
   */
  | { type: 'finish'; finishReason: FinishReason; usage?: Usage }
  /**
   * The stream failed after it started. Exactly one, always last. `message` is safe to show to
   * the client (no secrets, no stack); `status` is the HTTP status the failure maps to.
   */
  | { type: 'error'; message: string; status: number };

export type StreamPartType = StreamPart['type'];
