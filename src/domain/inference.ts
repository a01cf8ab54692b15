/**
 * The ml-commons inference output shapes (ModelTensorOutput), used by `_predict` responses and,
 * per event, by `_predict/stream`. Reference: ml-commons-reference.md §4.1, §6.4.
 */

export interface ModelTensor {
  name: string;
  data_type?: string;
  shape?: number[];
  data?: number[];
  result?: string;
  dataAsMap?: Record<string, unknown>;
}

export interface ModelTensors {
  output: ModelTensor[];
  status_code?: number;
}

export interface InferenceResponse {
  inference_results: ModelTensors[];
}
