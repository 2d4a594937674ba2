// The backlog trend (open per day by SLA state) and created vs closed per day, drawn by uPlot.
// Each series also differs by dash pattern, not only by colour. The days are EAT days, whatever
// the browser's time zone: the points are EAT midnights, and so are the axis ticks (tzDate).

function daySeconds(date) {
  return Date.parse(`${date}T00:00:00+03:00`) / 1000;
}

/** uPlot's dates in EAT (Nairobi: UTC+3, no daylight saving), not the browser's zone. */
const eatDate = (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Africa/Nairobi");

const DAY_STEPS = [86_400, 2 * 86_400, 7 * 86_400, 14 * 86_400, 28 * 86_400];

function dayLabel(seconds) {
  const d = new Date(seconds * 1000 + 3 * 3_600_000);
  return `${d.getUTCDate()} ${d.toLocaleString("en-GB", { month: "short", timeZone: "UTC" })}`;
}

function widthOf(el) {
  return Math.max(260, Math.floor(el.clientWidth || el.parentElement.clientWidth) - 4);
}

/** The counts' axis: ticks, gap and ~7 px a character of its longest label ("12,000"). */
function countsAxisSize(_u, values) {
  const longest = Math.max(2, ...(values ?? []).map((v) => String(v).length));
  return 20 + 7 * longest;
}

function line(label, stroke, dash, extra = {}) {
  return { label, stroke, width: 2, dash, points: { show: true, size: 5 }, ...extra };
}

const BACKLOG_SERIES = [
  {},
  line("open", "#1d2330", undefined, { width: 3 }),
  line("breached", "#c62828", [10, 4]),
  line("at risk", "#e69500", [4, 4]),
  line("ok", "#2e7d32", [1, 3]),
  line("unknown", "#757575", [8, 3, 2, 3]),
];

const FLOW_SERIES = [
  {},
  line("created", "#1565c0", undefined),
  line("closed", "#2e7d32", [6, 4]),
];

function chart(el, series, data, existing) {
  if (existing) {
    existing.setData(data);
    return existing;
  }
  el.innerHTML = "";
  const opts = {
    width: widthOf(el),
    height: 220,
    series,
    tzDate: eatDate,
    scales: { x: { time: true } },
    // The counts' axis as wide as its longest label (before: 44 px, which cut "3,000" to ",000").
    axes: [{ incrs: DAY_STEPS, values: (_u, splits) => splits.map(dayLabel) }, {
      size: countsAxisSize,
    }],
    legend: { live: false },
  };
  return new uPlot(opts, data, el);
}

/**
 * One captured day between two empty ones, so that it is drawn mid-chart under its date (uPlot
 * puts a lone point at the left edge with no day on the axis, its scale's range function unused);
 * more days as they are.
 */
function oneDayAmidEmptyOnes(days) {
  if (days.length !== 1) return days;
  const shifted = (n) =>
    new Date(Date.parse(`${days[0].date}T00:00:00Z`) + n * 86_400_000)
      .toISOString().slice(0, 10);
  return [{ date: shifted(-1) }, days[0], { date: shifted(1) }];
}

const count = (n) => (n ?? 0).toLocaleString("en");

/**
 * Each chart's figures in words, for a screen reader and the keyboard (the charts are in the tab
 * order; before, the tab order ended at the dispatch form's Find).
 */
function describe(backlogEl, flowEl, days) {
  const first = days[0];
  const last = days[days.length - 1];
  const range = days.length === 1 ? first.date : `${first.date} to ${last.date}`;
  backlogEl.setAttribute(
    "aria-label",
    `Open backlog per day, ${range}: on ${last.date} ${count(last.open_total)} open, ` +
      `${count(last.open_breached)} breached, ${count(last.open_at_risk)} at risk, ` +
      `${count(last.open_ok)} ok, ${count(last.open_unknown)} unknown`,
  );
  const sum = (key) => days.reduce((n, d) => n + (d[key] ?? 0), 0);
  flowEl.setAttribute(
    "aria-label",
    `Created vs closed per day, ${range}: ${count(sum("created"))} created and ` +
      `${count(sum("closed"))} closed in all; on ${last.date} ${count(last.created)} created, ` +
      `${count(last.closed)} closed`,
  );
}

/** Creates both charts; `update(days)` redraws them from /api/backlog's days. */
export function createCharts(backlogEl, flowEl) {
  let backlog = null;
  let flow = null;
  addEventListener("resize", () => {
    backlog?.setSize({ width: widthOf(backlogEl), height: 220 });
    flow?.setSize({ width: widthOf(flowEl), height: 220 });
  });
  return {
    update(days) {
      if (days.length === 0) {
        backlog?.destroy();
        flow?.destroy();
        backlog = flow = null;
        const empty = `<p class="note">No daily snapshot in this range yet: the backlog ` +
          `accrues from the first capture on.</p>`;
        backlogEl.innerHTML = empty;
        flowEl.innerHTML = empty;
        backlogEl.setAttribute("aria-label", "Open backlog per day: no daily snapshot yet");
        flowEl.setAttribute("aria-label", "Created vs closed per day: no daily snapshot yet");
        return;
      }
      describe(backlogEl, flowEl, days);
      const shown = oneDayAmidEmptyOnes(days);
      const x = shown.map((d) => daySeconds(d.date));
      backlog = chart(backlogEl, BACKLOG_SERIES, [
        x,
        shown.map((d) => d.open_total ?? null),
        shown.map((d) => d.open_breached ?? null),
        shown.map((d) => d.open_at_risk ?? null),
        shown.map((d) => d.open_ok ?? null),
        shown.map((d) => d.open_unknown ?? null),
      ], backlog);
      flow = chart(flowEl, FLOW_SERIES, [
        x,
        shown.map((d) => d.created ?? null),
        shown.map((d) => d.closed ?? null),
      ], flow);
    },
  };
}
