// Running the CLI as an operator does, for the tests of the operator-facing commands: a
// subprocess under `deno run -P=worker` (the permission set every `deno task` uses), and scratch
// folders under .data/ that are removed when the test file ends. Private to tests/.

/** What a CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode spawnCli}. */
export interface CliOptions {
  /**
   * The folder to run in, inside the checkout's .data/ (the worker may write only there): its
   * own `.data/pglite` and `.data/demo/pglite`, the default folders. Default: the checkout.
   */
  cwd?: string;
}

/** No wait for a folder's files to be still (FOLDER_SETTLE_SECONDS): tests write them whole. */
export const SETTLED = { FOLDER_SETTLE_SECONDS: "0" } as const;

/**
 * The V8 flags of every CLI run a test starts: the embedded database's WebAssembly compiled by
 * V8's baseline compiler alone. A test's CLI run opens PGlite for a few statements, where the
 * optimising compiler's work in the background (~0.6 s of CPU a start here) never pays back; the
 * answers are the same either way. The commands themselves keep V8's default (README,
 * Development).
 */
export const TEST_V8_FLAGS = "--v8-flags=--liftoff-only";

/** Starts `main.ts ARGS` under the worker permission set with only `env` (plus PATH and HOME). */
export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
  options: CliOptions = {},
): Deno.ChildProcess {
  const main = options.cwd === undefined
    ? "main.ts"
    : new URL("../main.ts", import.meta.url).pathname;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=worker", "--quiet", TEST_V8_FLAGS, main, ...args],
    cwd: options.cwd,
    // A folder's files apply at once: each test writes them just before it runs the CLI.
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...SETTLED, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `main.ts ARGS` as {@linkcode spawnCli} does and waits for it. */
export async function cli(
  args: string[],
  env: Record<string, string> = {},
  options: CliOptions = {},
): Promise<CliResult> {
  const output = await spawnCli(args, env, options).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

const created = new Set<string>();

/** A fresh folder under `.data/<area>/` (the worker may write only under .data). */
export async function scratchDir(area: string): Promise<string> {
  const dir = `.data/${area}/${crypto.randomUUID()}`;
  await Deno.mkdir(dir, { recursive: true });
  created.add(dir);
  return dir;
}

/** Removes every scratch folder this test file made (and their lock files). */
export async function removeScratchDirs(): Promise<void> {
  for (const dir of created) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    const parent = dir.slice(0, dir.lastIndexOf("/"));
    // Remove the area folder too once it is empty (another file may still be using it).
    await Deno.remove(parent).catch(() => {});
  }
  created.clear();
}

/** Registers a last test that removes this file's scratch folders. */
export function cleanUpScratchDirsAtEnd(): void {
  Deno.test({
    name: "scratch folders under .data/ are removed",
    sanitizeResources: false,
    sanitizeOps: false,
    fn: removeScratchDirs,
  });
}
