import assert from "node:assert/strict";
import { MAX_WINDOW_DAYS, reportWindow, WindowError } from "./report_window.ts";

function refused(input: Parameters<typeof reportWindow>[0]): WindowError {
  try {
    reportWindow(input);
  } catch (error) {
    assert.ok(error instanceof WindowError);
    return error;
  }
  throw new Error(`reportWindow(${JSON.stringify(input)}) passed`);
}

Deno.test("reportWindow() reads a named window, or from/to as a custom one", () => {
  assert.deepEqual(reportWindow({}), { window: "7d" });
  assert.deepEqual(reportWindow({ window: "mtd" }), { window: "mtd" });
  assert.deepEqual(reportWindow({ window: " MTD " }), { window: "mtd" }); // as the SQL reads it
  assert.deepEqual(reportWindow({ from: "2025-06-16", to: "2026-06-15" }), {
    window: "custom",
    from: "2025-06-16",
    to: "2026-06-15",
  });
});

Deno.test("reportWindow() refuses what the SQL would, naming the parameter to fix", () => {
  assert.equal(refused({ window: "week" }).parameter, "window");
  assert.equal(refused({ window: "custom", to: "2026-06-15" }).parameter, "from");
  assert.equal(refused({ window: "custom", from: "2026-06-15" }).parameter, "to");
  assert.equal(refused({ from: "2026-06-15", to: "2026-06-14" }).parameter, "from");
  assert.equal(refused({ from: "2026-02-30", to: "2026-03-01" }).parameter, "from");
  assert.equal(refused({ from: "0000-01-01", to: "0000-01-02" }).parameter, "from"); // no such year
  assert.equal(refused({ window: "30d", to: "2026-06-14" }).parameter, "to");
  const long = refused({ from: "0001-01-01", to: "9999-12-31" });
  assert.match(long.message, new RegExp(`at most ${MAX_WINDOW_DAYS} days \\(this one 3652059\\)`));
});

Deno.test("reportWindow() says which day a custom window lacks, in words that do not read as cut short", () => {
  assert.equal(
    refused({ window: "custom", from: "2026-06-01" }).message,
    'Cannot use window "custom" without to: give both from and to (YYYY-MM-DD)',
  );
  assert.throws(
    () => reportWindow({ window: "custom", to: "2026-06-15" }, (p) => `--${p}`),
    {
      message:
        'Cannot use --window "custom" without --from: give both --from and --to (YYYY-MM-DD)',
    },
  );
  // A day alone, no window named: said as typed (before: 'Cannot use --window "custom" …').
  assert.throws(() => reportWindow({ from: "2026-06-01" }, (p) => `--${p}`), {
    message: "Cannot use --from without --to: give both --from and --to (YYYY-MM-DD)",
  });
  assert.equal(
    refused({ to: "2026-06-15" }).message,
    "Cannot use to without from: give both from and to (YYYY-MM-DD)",
  );
});
