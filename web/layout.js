// How the page fits the screen: the desktop's panes at the window's height, the filters folded
// on a narrow screen, and the phone's bottom sheet (the layout sketch in the design notes).

const $ = (id) => document.getElementById(id);

/**
 * A phone, upright or turned sideways (a screen under 500 px high, under 1,024 px wide): the
 * ticket card and the lists come up in a sheet over the map (style.css has the same query).
 */
export const PHONE = matchMedia("(max-width: 599px), (max-height: 499px) and (max-width: 1023px)");

/**
 * The design's bottom sheet, on a phone: the side panels (the ticket card, a stack's list, the
 * nearest list) stick to the screen's bottom over the map's lower part, at most 40 % of it high,
 * scrolled to `part`; the close button (×) puts them back below the map, the selection kept.
 * Before, the page scrolled down to them and the map went out of sight.
 */
export function openSheet(part) {
  document.body.classList.add("sheet");
  const side = document.querySelector(".side");
  const close = $("sheet-close"); // sticky at the sheet's top: the part starts below it
  side.scrollTop = 0;
  side.scrollTop = part.offsetTop - close.offsetTop - close.offsetHeight;
  // The map at the screen's top, all of it above the sheet, the tapped point with it (before,
  // under a banner and the filters, the sheet left 34-140 px of it; a map tester's).
  scrollTo({ top: $("map").getBoundingClientRect().top + scrollY, behavior: "instant" });
}

/** Puts the sheet down: the panels back in the page below the map. */
export function closeSheet() {
  document.body.classList.remove("sheet");
}

/** The sheet on a phone, over the map (the table view keeps its rows: the page scrolls). */
export function sheetFits(state) {
  return PHONE.matches && state.view !== "table";
}

/**
 * The filters stand open beside the map on a wide screen and fold above it on a narrow one, also
 * when the window is narrowed or widened (before: narrowed below 1,024 px they stayed open above
 * the map and pushed it below the fold; a map tester's). Filters in use (`inUse()`) keep them
 * open, but on a phone, where they stay folded (before, a link's filter opened them over the
 * whole first screen, the map below it; a map tester's): the button says how many are in use.
 */
export function foldFilters(inUse) {
  const wide = matchMedia("(min-width: 1024px)");
  const fold = () => $("filters-box").open = wide.matches || (inUse() && !PHONE.matches);
  fold();
  wide.addEventListener("change", fold);
  PHONE.addEventListener("change", fold);
}

/** The Filters button says how many filters are in use, `n` ("Filters · 2 in use"). */
export function countFilters(n) {
  $("filters-box").querySelector("summary").textContent = n ? `Filters · ${n} in use` : "Filters";
}

/**
 * Tells the style sheet how far down the map starts (`--above`), so that on a desktop the map
 * and the side panels end at the window's bottom whatever banners show above them (before: a
 * stale-data banner pushed their bottom 30-50 px below the fold; a map tester's).
 */
export function measureAbove() {
  const layout = document.querySelector(".layout");
  const measure = () => {
    const top = layout.getBoundingClientRect().top + scrollY;
    document.documentElement.style.setProperty("--above", `${Math.round(top)}px`);
  };
  const observer = new ResizeObserver(measure);
  for (const el of document.querySelectorAll("body > :not(.layout, .charts, .teams)")) {
    observer.observe(el);
  }
  measure();
}
