// The player's number formatting, scrubber labels and notes by epoch (node --test tests/js/).
import assert from "node:assert/strict";
import { test } from "node:test";

import { fmt, fmtPair, notesAt, ticks } from "../../webapp/player.js";

const MINUS = "\u2212";
const parse = (s) => Number(s.replace(MINUS, "-"));

test("four significant digits, a real minus sign, no float noise", () => {
  assert.equal(fmt(2.42189), "2.422");
  assert.equal(fmt(1.1000000238418579), "1.1");
  assert.equal(fmt(-0.00031579), `${MINUS}0.0003158`);
  assert.equal(fmt(0), "0");
  assert.equal(fmt(123456), "1.235e5");
  assert.equal(fmt(-7.2e14), `${MINUS}7.2e14`);
  assert.equal(fmt(2.98e-8), "2.98e-8");
  assert.equal(fmt(NaN), "—");
  assert.equal(fmt(Infinity), "∞");
});

test("two numbers shown together get the digits that tell them apart", () => {
  // The lesson's step at lr 1e-6: 1.1 - 1e-6 * (-1.353) = 1.100001353.
  const [a, b] = fmtPair(1.1, 1.1 + 1e-6 * 1.353);
  assert.notEqual(a, b);
  assert.equal(a, "1.100000");
  assert.equal(b, "1.100001");
  // Already different at 4 digits: trailing zeros kept so that they line up.
  assert.deepEqual(fmtPair(2.401, 2.38), ["2.401", "2.380"]);
  // Equal numbers stay at 4 digits.
  assert.deepEqual(fmtPair(1.5, 1.5), ["1.500", "1.500"]);
  // Whatever the values, the shown numbers round-trip within their last digit.
  for (const [x, y] of [[3.14159, 3.14158], [1e-7, 1.0001e-7], [-250.5, -250.50001]]) {
    const [sx, sy] = fmtPair(x, y);
    assert.notEqual(sx, sy);
    assert.ok(Math.abs(parse(sx) - x) <= Math.abs(x - y), `${sx} vs ${x}`);
  }
});

test("the scrubber labels its first and last epochs and round ones between", () => {
  assert.deepEqual(ticks(10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(ticks(0), [0]);
  assert.deepEqual(ticks(1), [0, 1]);
  const long = ticks(10000);
  assert.equal(long[0], 0);
  assert.equal(long.at(-1), 10000);
  assert.deepEqual(long, [0, 2000, 4000, 6000, 8000, 10000]);
  const odd = ticks(1811);
  assert.equal(odd.at(-1), 1811);
  assert.ok(odd.slice(1, -1).every((t) => t % 100 === 0 && t < 1811 * 0.93));
});

test("the notes of an epoch are those whose spans hold it", () => {
  const notes = [
    { kind: "warn", text: "dead", spans: [[0, 2], [7, 7]] },
    { kind: "info", text: "past", spans: [[2, 5]] },
  ];
  assert.deepEqual(notesAt(notes, 0), [["warn", "dead"]]);
  assert.deepEqual(notesAt(notes, 2), [["warn", "dead"], ["info", "past"]]);
  assert.deepEqual(notesAt(notes, 6), []);
  assert.deepEqual(notesAt(notes, 7), [["warn", "dead"]]);
  assert.deepEqual(notesAt(notes, 8), []);
  assert.deepEqual(notesAt(undefined, 3), []);
});
