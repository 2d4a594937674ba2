/**
 * Real-path checks against the permission set: a symbolic link must not carry a read or a write
 * outside the folders the worker may use (Deno checks the path as written, not where it leads).
 *
 * @module
 */

/** A path leads (maybe through a link) outside what the worker may read or write. */
export class PathNotAllowedError extends Error {
  /** Where the path really leads. */
  readonly realPath: string;

  /** Creates the error; the message names the path, where it leads and the access. */
  constructor(message: string, realPath: string) {
    super(message);
    this.name = "PathNotAllowedError";
    this.realPath = realPath;
  }
}

/**
 * Resolves `path` to its real path (through every link; for a path that does not exist yet,
 * through its nearest existing ancestor) and checks that the permission set grants `access`
 * there. Returns the real path; throws {@linkcode PathNotAllowedError} naming `what`.
 */
export async function allowedPath(
  path: string,
  access: "read" | "write",
  what: string,
): Promise<string> {
  const real = await realPathOrAncestor(path);
  const { state } = await Deno.permissions.query({ name: access, path: real });
  if (state !== "granted") {
    const leads = real === absolute(path) ? "" : ` (it leads to "${real}")`;
    throw new PathNotAllowedError(
      `Cannot ${access} ${what} "${path}"${leads}: the worker may ${access} only ${
        access === "write" ? "under ./.data" : "inside its own folder"
      }${leads === "" ? "" : "; name a place there that no link carries out of it"}`,
      real,
    );
  }
  return real;
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
export async function realPathOrAncestor(path: string): Promise<string> {
  const parts: string[] = [];
  let current = absolute(path);
  for (;;) {
    try {
      const real = await Deno.realPath(current);
      return [real, ...parts.reverse()].join("/").replace(/\/+/g, "/");
    } catch (error) {
      // Under a file (NotADirectory) as not there: the file is the nearest existing part.
      if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
        throw error;
      }
      const slash = current.lastIndexOf("/");
      if (slash <= 0) return absolute(path);
      parts.push(current.slice(slash + 1));
      current = current.slice(0, slash);
    }
  }
}

function absolute(path: string): string {
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const out: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}
