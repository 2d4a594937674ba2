import assert from "node:assert/strict";
import {
  age,
  ago,
  cellText,
  clip,
  countdown,
  esc,
  hours,
  old,
  optionLabel,
  share,
  shown,
  visible,
} from "./format.js";

Deno.test("age() rounds an open ticket's hours down, as its SLA state is: 47.99 h is not 48.0 h", () => {
  assert.equal(age(47.99), "47.9 h");
  assert.equal(age(48), "48.0 h");
  assert.equal(age(35.95), "35.9 h");
  assert.equal(age(47.3), "47.3 h"); // 47.3 × 10 is 472.99999999999994 in floating point
  assert.equal(age(0.09), "0.0 h");
  assert.equal(age(99.99), "99.9 h");
  assert.equal(age(199.99), "8 d 7 h"); // from 100 h on as the countdown beside it counts
  assert.equal(age(4090.5), "170 d 10 h");
  assert.equal(age(null), "–");
  assert.equal(age(""), "–");
});

Deno.test("hours() rounds to the nearest tenth (MTTR, not an SLA age)", () => {
  assert.equal(hours(47.99), "48.0 h");
  assert.equal(hours(2.25), "2.3 h");
  assert.equal(hours(47.05), "47.1 h"); // as report --by team prints it (before: "47.0 h")
  assert.equal(hours(undefined), "–");
});

Deno.test("countdown() says a ticket with under a minute left is not breached yet: only negative is", () => {
  // The API's minutes_to_breach is whole minutes left rounded down (0: under a minute), negative
  // from the breach instant on (-1 at the instant itself); the card's live value may be fractional.
  assert.equal(countdown(0), "breach in under 1 min");
  assert.equal(countdown(0.4), "breach in under 1 min");
  assert.equal(countdown(1), "breach in 1 min");
  assert.equal(countdown(5.7), "breach in 5 min");
  assert.equal(countdown(7 * 60 + 12), "breach in 7 h 12 min");
  assert.equal(countdown(-0.4), "breached under 1 min ago");
  assert.equal(countdown(-1), "breached under 1 min ago");
  assert.equal(countdown(-2), "breached 1 min ago");
  assert.equal(countdown(-(3 * 60 + 3)), "breached 3 h 02 min ago");
  assert.equal(countdown(null), "–");
});

Deno.test("ago() says a data time ahead of the server's clock is just now, never a negative age", () => {
  assert.equal(ago(0.34), "0.3 h ago");
  assert.equal(ago(0), "0.0 h ago");
  assert.equal(ago(-0.3), "just now");
  assert.equal(ago(-0.01), "just now"); // not "-0.0 h ago"
});

Deno.test("ago() gives days from two days on (the demo's data, months old, read 4027.1 h ago)", () => {
  assert.equal(ago(47.9), "47.9 h ago");
  assert.equal(ago(48), "2 days ago");
  assert.equal(ago(4027.1), "167 days ago");
});

Deno.test("hours() rounds as core/decimal_text.ts does (the page keeps its own copy)", async () => {
  const { decimalText } = await import("../core/decimal_text.ts");
  for (let i = 0; i < 20_000; i++) {
    const h = i / 200; // 0.000 … 99.995: every half of a tenth, and the doubles around them
    assert.equal(hours(h), `${decimalText(h, 1)} h`, `hours(${h})`);
  }
});

Deno.test("share() rounds a compliance once from its counts: 15 of 19 is 78.9 %, not 79.0 %", async () => {
  // The API's rate is rounded to 4 decimals (0.7895); rounding that again gave 79.0 %.
  assert.equal(share(15, 19), "78.9 %");
  assert.equal(share(1, 16), "6.3 %"); // 6.25: a half, up
  assert.equal(share(0, 5), "0.0 %");
  assert.equal(share(5, 5), "100.0 %");
  assert.equal(share(0, 0), "–");
  const { shareText } = await import("../core/decimal_text.ts");
  for (let whole = 1; whole <= 400; whole++) {
    for (let part = 0; part <= whole; part++) {
      assert.equal(
        share(part, whole),
        `${shareText(part, whole, 1)} %`,
        `share(${part}, ${whole})`,
      );
    }
  }
});

Deno.test("esc() writes direction controls out: a location with U+202E no longer turns the page's text around", () => {
  assert.equal(esc("Kasarani \u202eLFN <b>"), "Kasarani \\u202eLFN &#60;b&#62;");
  assert.equal(esc("\u2066x\u2069 \u200f"), "\\u2066x\\u2069 \\u200f");
  assert.equal(esc("Mji wa Kale – Ñ"), "Mji wa Kale – Ñ");
});

Deno.test("visible() writes direction controls out for a label set as text (a filter's option)", () => {
  // Before: the Team list read "T2mae" for "T\u202eeam2".
  assert.equal(visible("T\u202eeam2"), "T\\u202eeam2");
  assert.equal(visible("<b>Nyali</b>"), "<b>Nyali</b>"); // text, not HTML: nothing to escape
});

Deno.test("a filter option keeps a name's inner run of spaces: two names no longer read alike", () => {
  // An option collapses white space: "Nyali  Beach" showed as "Nyali Beach" (a tester's).
  assert.equal(optionLabel("Nyali  Beach"), "Nyali \u00a0Beach");
  assert.equal(optionLabel("Nyali Beach"), "Nyali Beach");
  assert.equal(optionLabel("A\tB   C"), "A B \u00a0\u00a0C"); // a tab alone is a space
  assert.equal(optionLabel("T\u202eeam  2"), "T\\u202eeam \u00a02");
});

Deno.test("visible() writes out the same direction controls as core/terminal_text.ts (the page keeps its own copy)", async () => {
  const { terminalText } = await import("../core/terminal_text.ts");
  for (let code = 0x100; code <= 0xffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue; // lone surrogates
    const c = String.fromCharCode(code);
    assert.equal(visible(c), terminalText(c), `U+${code.toString(16)}`);
  }
});

Deno.test("clip() keeps 300 characters of a feed's text and says how many more there were", () => {
  assert.equal(clip("Westlands"), "Westlands");
  assert.equal(clip("A".repeat(300)), "A".repeat(300));
  assert.equal(clip("A".repeat(100_300)), `${"A".repeat(300)}… (100,000 more characters)`);
  assert.equal(clip(null), "");
  // Never between the two halves of a character outside the BMP.
  assert.equal(clip(`${"A".repeat(299)}😀B`), `${"A".repeat(299)}… (3 more characters)`);
  assert.equal(
    shown(`<b>${"x".repeat(400)}`),
    `&#60;b&#62;${"x".repeat(297)}… (103 more characters)`,
  );
});

Deno.test("cellText() cuts a name to one line in its cell, all of it in the title, escaped", () => {
  const long = "Long Cluster " + "Abcdefghij".repeat(14);
  assert.equal(
    cellText(long),
    `<span class="cut" title="${long}">${long}</span>`,
  );
  assert.equal(
    cellText(`Kisumu "Central" <b>`),
    '<span class="cut" title="Kisumu &#34;Central&#34; &#60;b&#62;">Kisumu &#34;Central&#34; &#60;b&#62;</span>',
  );
  assert.equal(cellText(null), '<span class="cut" title=""></span>');
});

Deno.test("old() counts a file's age as ago() does: hours under two days, then days", () => {
  assert.equal(old(3.44), "3.4 h old");
  assert.equal(old(47.9), "47.9 h old");
  // Before: "4091.8 h old" in the stale banner, under a header saying "170 days ago".
  assert.equal(old(4091.8), "170 days old");
  assert.equal(ago(4091.8), "170 days ago");
  assert.equal(old(-0.2), "0.0 h old");
});
