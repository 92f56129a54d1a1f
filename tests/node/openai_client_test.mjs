// Drives a running `meridian serve` with the official `openai` npm client: chat and text
// completions, streamed and not, usage, finish reasons, the model list, and the errors the client
// maps to its exception classes. Usage: node openai_client_test.mjs http://127.0.0.1:PORT
// Exit status 0 when every check passed; the failures are printed otherwise.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.argv[2];
if (!base) {
  console.error('usage: node openai_client_test.mjs <base_url>');
  process.exit(2);
}

const client = new OpenAI({
  baseURL: `${base}/v1`,
  apiKey: process.env.MERIDIAN_API_KEY ?? 'no-key-needed',
  maxRetries: 0,
  timeout: 60_000,
});

const checks = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    checks.push({ name, ok: true, ms: Date.now() - started });
  } catch (err) {
    checks.push({ name, ok: false, error: String(err?.stack ?? err) });
  }
}

const models = [];
for await (const m of client.models.list()) models.push(m);
const model = models[0]?.id;

const messages = [
  { role: 'system', content: 'You answer briefly.' },
  { role: 'user', content: 'Tell me about the city.' },
];

await check('models.list returns the served model', async () => {
  assert.equal(models.length, 1);
  assert.equal(models[0].object, 'model');
  assert.ok(typeof model === 'string' && model.length > 0);
});

let chatText = '';
await check('chat.completions non-streamed', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.ok(r.id.startsWith('chatcmpl-'));
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  chatText = r.choices[0].message.content;
});

await check('chat.completions streamed equals non-streamed (greedy), with usage', async () => {
  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta?.role) role = c.delta.role;
      if (c.delta?.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.equal(text, chatText);
  assert.ok(['stop', 'length'].includes(finish));
  assert.ok(usage && usage.completion_tokens > 0);
});

let completionText = '';
await check('completions non-streamed stops at max_tokens with finish_reason length', async () => {
  const r = await client.completions.create({ model, prompt: 'The man said that', max_tokens: 6, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 6);
  completionText = r.choices[0].text;
  assert.ok(completionText.length > 0);
});

await check('completions streamed equals non-streamed (greedy)', async () => {
  const stream = await client.completions.create({
    model, prompt: 'The man said that', max_tokens: 6, temperature: 0, stream: true,
  });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, completionText);
  assert.equal(finish, 'length');
});

await check('sampling parameters and seed are accepted and reproducible', async () => {
  const params = {
    model, prompt: 'It was', max_tokens: 8, temperature: 0.9, top_p: 0.9, seed: 1234,
    presence_penalty: 0.5, frequency_penalty: 0.2, stop: ['\n\n'], user: 'node-test',
  };
  const a = await client.completions.create(params);
  const b = await client.completions.create(params);
  assert.equal(a.choices[0].text, b.choices[0].text);
});

await check('unknown model is a NotFoundError (404, model_not_found)', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages, max_tokens: 4 }),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404 && err.code === 'model_not_found',
  );
});

await check('n > 1 is a BadRequestError naming the param', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages, max_tokens: 4, n: 2 }),
    (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.param === 'n',
  );
});

await check('prompt + max_tokens over the context is context_length_exceeded', async () => {
  await assert.rejects(
    client.completions.create({ model, prompt: 'word '.repeat(2000), max_tokens: 16 }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'context_length_exceeded',
  );
});

await check('empty messages is a BadRequestError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: [], max_tokens: 4 }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'messages',
  );
});

const failed = checks.filter((c) => !c.ok);
console.log(JSON.stringify({ base, model, passed: checks.length - failed.length, failed: failed.length, checks }));
process.exit(failed.length === 0 ? 0 : 1);
