/** Provider responses as the providers document them (values shortened). */
export const openAiEmbeddings = {
  object: 'list',
  data: [
    { object: 'embedding', index: 0, embedding: [0.0023064255, -0.009327292, 0.015797347] },
    { object: 'embedding', index: 1, embedding: [-0.0069326, 0.0011253, 0.0250581] },
  ],
  model: 'text-embedding-3-small',
  usage: { prompt_tokens: 8, total_tokens: 8 },
};

export const cohereV1Embed = {
  id: 'bc57846a-3e56-4327-8acc-588ca1a37b8a',
  texts: ['hello', 'goodbye'],
  embeddings: [
    [1.6142578, 0.24841309, 0.5385742],
    [0.44970703, 0.8276367, -0.04626465],
  ],
  meta: { api_version: { version: '1' }, billed_units: { input_tokens: 2 } },
  response_type: 'embeddings_floats',
};

export const cohereV2Embed = {
  id: 'da6e531f-54c6-4a73-bf92-f60566d8d753',
  embeddings: {
    float: [[0.016296387, -0.008354187, -0.04699707]],
    int8: [[-21, -11, -61]],
    uint8: [[107, 117, 67]],
    binary: [[-54, 99, -87]],
    ubinary: [[74, 227, 41]],
  },
  texts: ['hello'],
  meta: { api_version: { version: '2' }, billed_units: { input_tokens: 1 } },
  response_type: 'embeddings_by_type',
};

export const titanV1Embed = { embedding: [0.5, -0.25, 0.125], inputTextTokenCount: 3 };

export const titanV2Embed = {
  embedding: [0.5, -0.25, 0.125],
  embeddingsByType: { float: [0.5, -0.25, 0.125], binary: [1, 0, 1] },
  inputTextTokenCount: 3,
};

export const novaEmbed = {
  embeddings: [{ embeddingType: 'TEXT', embedding: [0.1, 0.2, 0.3, 0.4] }],
};

export const cohereRerank = {
  id: '07734bd2-2473-4f07-94e1-0d9f0e6843cf',
  results: [
    { index: 3, relevance_score: 0.999071 },
    { index: 0, relevance_score: 0.7867867 },
    { index: 2, relevance_score: 0.32713068 },
    { index: 1, relevance_score: 0.0007511 },
  ],
  meta: { api_version: { version: '1' }, billed_units: { search_units: 1 } },
};

export const bedrockRerank = {
  results: [
    { index: 1, relevanceScore: 0.91 },
    { index: 0, relevanceScore: 0.0123 },
  ],
};
