// Whole-process measurement for the benches: wall time, stdout and peak RSS. Private to bench/.

/** One measured process. */
export interface Measured {
  /** Wall time, start to exit, milliseconds. */
  ms: number;
  /** What it printed on stdout. */
  stdout: string;
  /** Peak resident set size (VmHWM), kB. */
  peakRssKb: number;
}

/** Runs a command, returning wall time and peak RSS (VmHWM polled from /proc); throws on exit ≠ 0. */
export async function measureProcess(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Measured> {
  const started = performance.now();
  const child = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  let peak = 0;
  const poll = setInterval(async () => {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch { /* exited */ }
  }, 20);
  const out = await child.output();
  clearInterval(poll);
  const ms = performance.now() - started;
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { ms, stdout: new TextDecoder().decode(out.stdout), peakRssKb: peak };
}
