// Where the browser tests find Chromium. Private to tests/.

/** BROWSER_PATH, or Debian's Chromium. */
const BROWSER_PATH = Deno.env.get("BROWSER_PATH") ?? "/usr/bin/chromium";

/** The Chromium binary to drive; an error naming how to get one when there is none. */
export async function browserPath(): Promise<string> {
  try {
    await Deno.stat(BROWSER_PATH);
    return BROWSER_PATH;
  } catch {
    throw new Error(
      `Cannot run the browser tests: no Chromium at "${BROWSER_PATH}". Install Debian's ` +
        `package ("apt-get install chromium", as .ci/run does) or set BROWSER_PATH to a ` +
        `Chromium or Chrome binary`,
    );
  }
}
