// `deno task vendor-postgres [--check | --update-patch]`: vendor/postgres/ is postgres.js
// (upstream npm tarball, version below) with vendor/postgres.patch applied; see vendor/README.md.
//
//   (no flag)        rebuild vendor/postgres/ from the tarball and the patch
//   --check          exit 1 when vendor/postgres/ differs from that rebuild (CI runs this)
//   --update-patch   write vendor/postgres.patch from the current vendor/postgres/ (after an edit)
//
// Needs `npm` (to fetch the tarball from the npm registry), `tar`, `diff` and `patch`.

const VERSION = "3.4.9";
/** The upstream files the vendored module uses (the rest of the tarball is CommonJS/Cloudflare). */
const FILES = [
  "README.md",
  "package.json",
  "src/bytes.js",
  "src/connection.js",
  "src/errors.js",
  "src/index.js",
  "src/large.js",
  "src/query.js",
  "src/queue.js",
  "src/result.js",
  "src/subscribe.js",
  "src/types.js",
  "types/index.d.ts",
  "types/package.json",
  "types/tsconfig.json",
];
const ROOT = new URL("..", import.meta.url).pathname;
const VENDORED = `${ROOT}vendor/postgres`;
const PATCH = `${ROOT}vendor/postgres.patch`;

async function run(cmd: string, args: string[], cwd: string, okCodes = [0]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!okCodes.includes(out.code)) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`Cannot run "${cmd} ${args.join(" ")}": exit ${out.code}: ${stderr}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Unpacks the upstream files into `dir`/a. */
async function upstream(dir: string): Promise<string> {
  await run("npm", ["pack", `postgres@${VERSION}`, "--silent"], dir);
  await run("tar", ["xzf", `postgres-${VERSION}.tgz`], dir);
  const a = `${dir}/a`;
  for (const file of FILES) {
    await Deno.mkdir(`${a}/${file.slice(0, file.lastIndexOf("/") + 1)}`, { recursive: true });
    await Deno.copyFile(`${dir}/package/${file}`, `${a}/${file}`);
  }
  return a;
}

/** Upstream + patch, in `dir`/b. */
async function rebuild(dir: string): Promise<string> {
  const a = await upstream(dir);
  const b = `${dir}/b`;
  await run("cp", ["-r", a, b], dir);
  await run("patch", ["-s", "-p1", "-d", b, "-i", PATCH], dir);
  return b;
}

async function main(args: string[]): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "fleettickets-vendor-" });
  try {
    if (args[0] === "--update-patch") {
      const a = await upstream(dir);
      await run("cp", ["-r", VENDORED, `${dir}/b`], dir);
      // diff exits 1 when the trees differ; labels keep the patch free of temp paths and times.
      const patch = await run("diff", ["-ruN", "a", "b"], dir, [0, 1]);
      await Deno.writeTextFile(PATCH, patch.replace(/^(---|\+\+\+) (\S+)\t.*$/gm, "$1 $2"));
      console.log(`Wrote ${PATCH} (${patch.split("\n").length} lines against ${a})`);
      return 0;
    }
    const b = await rebuild(dir);
    if (args[0] === "--check") {
      const diff = await run("diff", ["-r", b, VENDORED], dir, [0, 1]);
      if (diff !== "") {
        console.error(
          `vendor/postgres differs from postgres@${VERSION} + vendor/postgres.patch:\n${diff}\n` +
            "Edit vendor/postgres, then run `deno task vendor-postgres --update-patch`",
        );
        return 1;
      }
      console.log(`vendor/postgres = postgres@${VERSION} + vendor/postgres.patch`);
      return 0;
    }
    if (args.length > 0) {
      throw new Error(`Unknown option "${args[0]}": use --check or --update-patch`);
    }
    await Deno.remove(VENDORED, { recursive: true });
    await run("cp", ["-r", b, VENDORED], dir);
    console.log(`Rebuilt vendor/postgres from postgres@${VERSION} + vendor/postgres.patch`);
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
