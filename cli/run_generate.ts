/**
 * `deno task generate`: writes a generated change stream (demo/generate_stream.ts) to a folder in
 * the bucket layout, for `ingest --from-dir`. Run as its own script with read and write on
 * `./.data` only (deno.json).
 *
 * @module
 */

import { underOutputRoot } from "./_output_path.ts";
import { allowedPath, PathNotAllowedError } from "../app/allowed_path.ts";
import { type GenerateOptions, generateStream } from "../demo/generate_stream.ts";
import { parseChangeFileName } from "../core/change_key.ts";
import { closest } from "./_suggest.ts";

const USAGE = `Usage: deno task generate --out DIR [--dataset NAME] [--tickets N] [--deltas K]
                         [--delta-size N] [--seed S] [--force]

Writes a generated change stream (a baseline, then deltas and full re-emissions) to
DIR/automations/<dataset>/changes/, the layout \`deno task ingest --from-dir DIR\` reads.

Options:
  --out DIR           the folder to write, under .data/ (required; "feed" is .data/feed)
  --dataset NAME      inc, crq or all (default inc; all adds a CRQ stream a third the size)
  --tickets N         tickets in the baseline, 1 to 1000000 (default 600; alarm rows come on top)
  --deltas K          files after the baseline, 0 to 1000 (default 6)
  --delta-size N      about how many rows each delta changes, 1 to 100000 (default 40)
  --seed S            0 to 4294967295 (default 1); the same flags write the same files
  --force             write even if DIR has change files of the dataset: the files in its
                      changes/ are replaced, processed/ is left as it is (default: refuse)
  -h, --help          show this help

Example:
  deno task generate --out .data/feed --dataset all --tickets 600 --deltas 6
`;

/** A command line the script cannot run: exit 2 with the reason (and, if `seeHelp`, a pointer). */
class CliError extends Error {
  constructor(message: string, readonly seeHelp = true) {
    super(message);
  }
}

/** The flags, each with whether it takes a value. */
const FLAGS: Readonly<Record<string, boolean>> = {
  out: true,
  dataset: true,
  tickets: true,
  deltas: true,
  "delta-size": true,
  seed: true,
  force: false,
  help: false,
};

interface CliOptions {
  out: string;
  datasets: "inc" | "crq" | "all";
  tickets: number;
  deltas: number;
  deltaSize: number;
  seed: number;
  force: boolean;
}

/** Reads a whole number within bounds from a flag's value. */
function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new CliError(
      `Cannot read --${flag} "${raw}": expected a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

/**
 * Reads the command line; "help" when help is asked for. A value may follow its flag or be
 * joined with "=", and may start with "-" (so `--tickets -5` is read, then refused, as -5).
 */
function parseCli(args: string[]): CliOptions | "help" {
  if (args.includes("--help") || args.includes("-h")) return "help";
  const values = readFlags(args);
  const text = (name: string, fallback: string): string => {
    const value = values.get(name);
    return typeof value === "string" ? value : fallback;
  };
  const out = values.get("out");
  if (out === undefined) {
    throw new CliError("Choose the folder to write with --out DIR, such as --out .data/feed");
  }
  if (out === "" || out === true) {
    throw new CliError(`Cannot read --out "": name a folder, such as --out .data/feed`);
  }
  const datasets = text("dataset", "inc");
  if (datasets !== "inc" && datasets !== "crq" && datasets !== "all") {
    throw new CliError(`Cannot read --dataset "${datasets}": expected "inc", "crq" or "all"`);
  }
  return {
    // A relative folder goes under .data/ (`feed` → `.data/feed`), as every output name does:
    // before, refused, while `db export move.sql` wrote `.data/move.sql`.
    out: underOutputRoot(out),
    datasets,
    tickets: wholeNumber("tickets", text("tickets", "600"), 1, 1_000_000),
    deltas: wholeNumber("deltas", text("deltas", "6"), 0, 1_000),
    deltaSize: wholeNumber("delta-size", text("delta-size", "40"), 1, 100_000),
    seed: wholeNumber("seed", text("seed", "1"), 0, 0xffffffff),
    force: values.has("force"),
  };
}

/** Each flag given, by name, with its value (`true` for a flag that takes none). */
function readFlags(args: string[]): Map<string, string | true> {
  const values = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-")) {
      throw new CliError(`Unexpected argument "${arg}": this command takes flags only`);
    }
    const eq = arg.indexOf("=");
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const name = flag.replace(/^--/, "");
    const takesValue = flag.startsWith("--") ? FLAGS[name] : undefined;
    if (takesValue === undefined) {
      const suggestion = closest(flag, Object.keys(FLAGS).map((name) => `--${name}`));
      throw new CliError(
        `Unknown flag "${flag}"${suggestion ? `: did you mean "${suggestion}"?` : ""}`,
      );
    }
    let value: string | true = true;
    if (!takesValue && eq >= 0) throw new CliError(`The flag "${flag}" takes no value`);
    if (takesValue) {
      const next = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (next === undefined || (eq < 0 && next.startsWith("--"))) {
        throw new CliError(`The flag "${flag}" needs a value`);
      }
      value = next;
    }
    setOnce(values, name, flag, value);
  }
  return values;
}

/** Records a flag's value; a flag given twice is refused, quoting both values. */
function setOnce(
  values: Map<string, string | true>,
  name: string,
  flag: string,
  value: string | true,
): void {
  const before = values.get(name);
  if (before !== undefined) {
    const given = [before, value].filter((v) => v !== true).map((v) => `"${v}"`);
    throw new CliError(
      `The flag "${flag}" is given twice${
        given.length > 0 ? ` (${given.join(", then ")})` : ""
      }: give it once`,
    );
  }
  values.set(name, value);
}

/** Names of the change files in a folder (none if it does not exist). */
async function changeFilesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && parseChangeFileName(entry.name) !== null) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** Writes generated stream(s) under `--out` in the bucket layout and prints a summary line each. */
async function main(args: string[]): Promise<void> {
  const options = parseCli(args);
  if (options === "help") {
    console.log(USAGE.trimEnd());
    return;
  }
  const { out, force } = options;
  const runs = plannedRuns(options);
  await checkOut(out);
  // Generated names repeat (times from a fixed start), so a second stream would silently
  // replace or mix with the first: refuse unless --force.
  const existing = await existingChangeFiles(out, runs);
  if (existing.length > 0 && !force) {
    throw new CliError(
      `Cannot write --out "${out}": it already has ` +
        `${existing.map((e) => e.dataset).join(" and ")} change files ` +
        `(${existing.flatMap((e) => e.where).join(", ")}): choose a new folder, or add --force ` +
        "to write over them",
      false,
    );
  }
  for (const run of runs) await writeStream(run, out, existing);
}

/** The streams `--dataset` asks for. */
function plannedRuns(options: CliOptions): GenerateOptions[] {
  const { datasets, tickets, seed } = options;
  const common = { deltas: options.deltas, deltaSize: options.deltaSize };
  const runs: GenerateOptions[] = [];
  if (datasets !== "crq") runs.push({ ...common, dataset: "inc", seed, tickets });
  if (datasets === "crq") runs.push({ ...common, dataset: "crq", seed, tickets });
  // CRQ is the smaller installation book; a different seed keeps it from mirroring INC.
  if (datasets === "all") {
    runs.push({
      ...common,
      dataset: "crq",
      seed: seed + 1,
      tickets: Math.max(1, Math.round(tickets / 3)),
    });
  }
  return runs;
}

/** Refuses an `--out` this script may not write, or that is a file. */
async function checkOut(out: string): Promise<void> {
  // Asked first, so a folder outside the task's permission is a sentence, not a prompt or a trace.
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path: out }).state !== "granted") {
      throw new CliError(
        `Cannot write --out "${out}": deno task generate may write only under .data/, where ` +
          "ingest --from-dir can move applied files: use a folder such as .data/feed",
        false,
      );
    }
  }
  // Where it really leads: Deno checks the path as written, so a link inside .data/ carried the
  // files out of it (before: .data/outlink -> /tmp/X got them; a tester's).
  await allowedPath(out, "write", "--out").catch((error) => {
    if (error instanceof PathNotAllowedError) throw new CliError(error.message, false);
    // Its nearest existing folder lies outside what generate may read (no .data/ yet, a fresh
    // clone): no link inside .data/ can lead anywhere.
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  });
  const stat = await Deno.stat(out).catch(() => null);
  if (stat !== null && !stat.isDirectory) {
    throw new CliError(`Cannot write --out "${out}": it is a file, not a folder`, false);
  }
}

/** Change files already under `--out` for a planned stream's dataset. */
interface ExistingFiles {
  dataset: string;
  /** How many, where (`3 in DIR/automations/inc/changes/`). */
  where: string[];
  /** The names in its changes/ (what --force replaces). */
  changes: string[];
}

async function existingChangeFiles(out: string, runs: GenerateOptions[]): Promise<ExistingFiles[]> {
  const existing: ExistingFiles[] = [];
  for (const run of runs) {
    const base = `${out}/automations/${run.dataset}`;
    const changes = await changeFilesIn(`${base}/changes`);
    const processed = await changeFilesIn(`${base}/processed`);
    const where: string[] = [];
    if (changes.length > 0) where.push(`${changes.length} in ${base}/changes/`);
    if (processed.length > 0) where.push(`${processed.length} in ${base}/processed/`);
    if (where.length > 0) existing.push({ dataset: run.dataset!, where, changes });
  }
  return existing;
}

/** Writes one stream's files to its changes/ folder and prints its summary line. */
async function writeStream(
  run: GenerateOptions,
  out: string,
  existing: ExistingFiles[],
): Promise<void> {
  const encoder = new TextEncoder();
  const stream = generateStream(run);
  const dir = `${out}/automations/${stream.dataset}/changes`;
  await Deno.mkdir(dir, { recursive: true });
  // --force: the old stream's files go, so none of its later deltas is left among the new ones.
  const replaced = existing.find((e) => e.dataset === stream.dataset)?.changes ?? [];
  for (const name of replaced) await Deno.remove(`${dir}/${name}`);
  let rows = 0;
  let bytes = 0;
  for (const file of stream.files) {
    const data = encoder.encode(file.text);
    await Deno.writeFile(`${dir}/${file.name}`, data);
    rows += file.rows;
    bytes += data.length;
  }
  console.log(
    `${stream.dataset}: ${stream.files.length} files, ${rows} rows, ${bytes} bytes -> ${dir}` +
      ` (${stream.stats.tickets} tickets: ${stream.stats.open} open, ${stream.stats.closed} closed)` +
      (replaced.length > 0 ? `; replaced ${replaced.length} earlier files` : ""),
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(error.message);
    if (error.seeHelp) console.error('See "deno task generate --help"');
    Deno.exit(2);
  }
}
