import assert from "node:assert/strict";
import type { MainIo } from "./_context.ts";
import { watchStopSignals } from "./_stop_signals.ts";

/** An io whose signals the test sends; what the process would print and how it would end. */
function fakeIo() {
  const seen = { stderr: "", exits: [] as number[], watching: 0 };
  let send: (signal: string) => void = () => {};
  const io: MainIo = {
    env: () => undefined,
    stdout: () => {},
    stderr: (text) => void (seen.stderr += text),
    terminal: { stdout: false, stderr: false },
    onSignal: (handler) => {
      send = handler;
      seen.watching++;
      return () => void seen.watching--;
    },
    exit: (code) => void seen.exits.push(code),
  };
  return { io, seen, send: (signal: string) => send(signal) };
}

const reason = (signal: string) => new Error(`Interrupted by ${signal}: rolled back`);

Deno.test("watchStopSignals(): the first signal aborts the run with its reason and ends nothing", () => {
  const { io, seen, send } = fakeIo();
  const watch = watchStopSignals(io, { redact: (t) => t, reason, graceMs: 60_000 });
  assert.equal(watch.by, undefined);
  send("SIGTERM");
  assert.equal(watch.by, "SIGTERM");
  assert.equal(watch.signal.aborted, true);
  assert.match(String(watch.signal.reason), /Interrupted by SIGTERM: rolled back/);
  assert.deepEqual(seen.exits, []);
  watch.stop();
  assert.equal(seen.watching, 0);
});

Deno.test("watchStopSignals(): a second Ctrl-C ends the process at once, saying so", () => {
  const { io, seen, send } = fakeIo();
  const watch = watchStopSignals(io, { redact: (t) => t, reason, graceMs: 60_000 });
  send("SIGINT");
  send("SIGINT");
  // Before: a second Ctrl-C was ignored, and the run waited for the step or the grace.
  assert.deepEqual(seen.exits, [1]);
  assert.equal(
    seen.stderr,
    "Interrupted again by SIGINT: stopped without waiting for the current step\n",
  );
  assert.equal(watch.by, "SIGINT");
  watch.stop();
});

Deno.test("watchStopSignals(): a step that outlasts the grace ends the process; one that ends in time does not", async () => {
  const late = fakeIo();
  const watch = watchStopSignals(late.io, { redact: (t) => t, reason, graceMs: 20 });
  late.send("SIGTERM");
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(late.seen.exits, [1]);
  assert.match(late.seen.stderr, /^Interrupted by SIGTERM: stopped without waiting/);
  watch.stop();

  const inTime = fakeIo();
  const stopped = watchStopSignals(inTime.io, { redact: (t) => t, reason, graceMs: 20 });
  inTime.send("SIGTERM");
  stopped.stop();
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(inTime.seen.exits, []);
});

Deno.test("watchStopSignals(): why it ends without waiting goes where the command says (ingest's JSON log under cron)", () => {
  const { io, seen, send } = fakeIo();
  const told: string[] = [];
  const watch = watchStopSignals(io, {
    redact: (t) => t,
    reason,
    graceMs: 60_000,
    tell: (message) => told.push(message),
  });
  send("SIGTERM");
  send("SIGTERM");
  assert.deepEqual(told, [
    "Interrupted again by SIGTERM: stopped without waiting for the current step",
  ]);
  assert.equal(seen.stderr, "");
  watch.stop();
});
